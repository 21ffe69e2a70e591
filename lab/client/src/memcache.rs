//! The load's memcached text-protocol connection: one TCP stream per node, requests pipelined,
//! replies matched in order.
