/**
 * Image references in distribution/reference's grammar (reference/regexp.go), as RegExp sources
 * without anchors or capturing groups, for the checks that must read a name exactly as dockerd
 * would before it does (a loaded archive's RepoTags, a Dockerfile's FROM).
 */
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const DOMAIN = '(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?';

/** A repository name: an optional registry domain, then path components. */
export const NAME_PATTERN = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
export const TAG_PATTERN = '[\\w][\\w.-]{0,127}';
