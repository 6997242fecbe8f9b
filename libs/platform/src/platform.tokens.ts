/** The deployable's name (`training`, `datasets`, `worker`), injected where it is logged. */
export const SERVICE_NAME = Symbol('SERVICE_NAME');
