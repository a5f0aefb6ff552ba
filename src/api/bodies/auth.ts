/**
 * The body of `POST /auth`: moby's registry.AuthConfig (28.5.2, api/types/registry/authconfig.go;
 * 20.10.24's types.AuthConfig has the same fields and tags), decoded by json.NewDecoder into a
 * pointer. Written by hand: seven string fields, each with a lower-case json tag.
 */
import { field, string, struct } from '../gojson/types.js';

const tagged = (goName: string, tag: string) => field(goName, string, { tag, omitempty: true });

export const authConfig = struct('registry.AuthConfig', [
  tagged('Username', 'username'),
  tagged('Password', 'password'),
  tagged('Auth', 'auth'),
  tagged('Email', 'email'),
  tagged('ServerAddress', 'serveraddress'),
  tagged('IdentityToken', 'identitytoken'),
  tagged('RegistryToken', 'registrytoken'),
]);
