#!/bin/sh
# A consistent copy of a confchat cluster's Redis: its append-only files
# (Redis 7: appendonlydir/, a base file, increments and a manifest), taken
# while Redis runs, as a tarball in DESTINATION. Run it on the Redis host as
# root (or the redis user), daily from a timer or cron:
#   REDISCLI_AUTH=<admin password> backup-aof.sh /var/backups/redis
# Environment: REDIS_HOST (127.0.0.1), REDIS_PORT (6379), REDIS_USER (admin:
# the operator's user of deploy/redis/confchat.conf), REDISCLI_AUTH (its
# password; redis-cli reads it there, never from the command line).
# Restore: docs/deploy.md, "Redis". Tested by tests/test_deploy.py.
#
# While automatic rewrites are off and none is running, the files do not
# change but by appending: hard links to them are a consistent set, taken
# in an instant; rewrites are turned on again before the (slow) copy.
set -eu

destination=${1:?usage: backup-aof.sh DESTINATION}

cli() {
    redis-cli -h "${REDIS_HOST:-127.0.0.1}" -p "${REDIS_PORT:-6379}" --user "${REDIS_USER:-admin}" \
        --no-auth-warning "$@"
}

setting() {
    cli CONFIG GET "$1" | sed -n 2p
}

dir=$(setting dir)
aof=$(setting appenddirname)
previous=$(setting auto-aof-rewrite-percentage)
[ "$(setting appendonly)" = yes ] || { echo "backup-aof.sh: appendonly is not on" >&2; exit 1; }

cli CONFIG SET auto-aof-rewrite-percentage 0 >/dev/null
trap 'cli CONFIG SET auto-aof-rewrite-percentage "$previous" >/dev/null' EXIT
while cli INFO persistence | grep -q '^aof_rewrite_in_progress:1'; do
    sleep 1
done
stamp=$(date +%Y%m%dT%H%M%S)
links="$dir/backup-$stamp"
mkdir "$links"
ln "$dir/$aof"/* "$links/"
cli CONFIG SET auto-aof-rewrite-percentage "$previous" >/dev/null
trap - EXIT

mkdir -p "$destination"
tar -C "$links" -czf "$destination/redis-aof-$stamp.tar.gz" .
rm -r "$links"
echo "$destination/redis-aof-$stamp.tar.gz"
