#!/bin/bash
# The runbook's admin command, run as `./arcus.sh ...` from /opt/arcus/scripts. The work is done by
# ../bin/arcus (the Rust port of arcus.sh); this script holds the operator's default ZooKeeper list.
#
# zklist: the ZooKeeper ensemble used when -z is not given (host:port,host:port,...). Set it once
# for your cloud, as the runbook's step 5 does:
#   sed -i 's/<current list>/10.0.0.3:2181,10.0.0.4:2181,10.0.0.5:2181/g' arcus.sh
zklist="127.0.0.1:2181"

# this script's directory and the install above it, with builtins (no dirname processes)
dir=${0%/*}
[ "$dir" = "$0" ] && dir=.
here=$(cd "$dir" && pwd)
parent=${here%/*}
# The Arcus install this script belongs to (the binary's default is /opt/arcus).
export ARCUS_HOME="${ARCUS_HOME:-${parent:-/}}"
export ARCUS_ZKLIST="$zklist"
exec -a "$0" "$here/../bin/arcus" "$@"
