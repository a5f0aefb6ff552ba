export { resolvePkiDir, pkiLayout, type PkiLayout } from './layout.js';
export { initCa, issueServer, issueClient, revoke, refreshCrl, renew, listCertificates, loadIssuer, encryptCaKey, checkEncryptable, defaultClientDockerHost, type IssueResult, type IssueOptions } from './store.js';
export { KEY_TYPES, DEFAULT_KEY_TYPE, parseKeyType, type KeyType } from './keys.js';
export { REVOCATION_REASONS, type InventoryEntry, type RevocationReason } from './inventory.js';
export { OID_CLIENT_AUTH, OID_SERVER_AUTH, DEFAULT_DAYS } from './profiles.js';
