export { OwnershipCache } from './cache.js';
export { OWNER_LABEL, OwnershipRefusal } from './label.js';
export { TENANT_NAME } from './names.js';
export { planRequest, type Answer, type OwnedRequest, type Plan } from './plan.js';
export { eventStream } from './answers.js';
