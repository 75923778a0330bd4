#!/bin/sh
# The replica: on first start, copy the primary with pg_basebackup (-R writes
# standby.signal and primary_conninfo), then run as a hot standby streaming from it.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -h primary -p 5432 -q; do sleep 1; done
  pg_basebackup -h primary -p 5432 -U replicator -D "$PGDATA" -R -X stream --checkpoint=fast
  chmod 0700 "$PGDATA"
fi
exec postgres -c hot_standby=on
