/** uid:gid of `mop`, the user every customer process runs as (images/base). */
export const MOP_USER = '441:444';
