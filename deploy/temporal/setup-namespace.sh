#!/bin/sh
# One-shot (temporalio/admin-tools): once the Temporal server is healthy, registers the namespace aicc uses
# and the search attributes its workflows set (TenantId, ChannelId), unless they exist already.
set -eu

: "${TEMPORAL_ADDRESS:=temporal:7233}" "${NAMESPACE:=default}" "${RETENTION:=7d}"
export TEMPORAL_ADDRESS

tries=0
until temporal operator cluster health >/dev/null 2>&1; do
	tries=$((tries + 1))
	if [ "$tries" -ge 60 ]; then
		echo "temporal-setup: $TEMPORAL_ADDRESS is not healthy after 60 tries" >&2
		exit 1
	fi
	sleep 2
done

if ! temporal operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1; then
	echo "temporal-setup: creating namespace $NAMESPACE"
	temporal operator namespace create --namespace "$NAMESPACE" --retention "$RETENTION"
fi

for attr in TenantId ChannelId; do
	if ! temporal operator search-attribute list --namespace "$NAMESPACE" | grep -qw "$attr"; then
		echo "temporal-setup: adding search attribute $attr (Keyword)"
		temporal operator search-attribute create --namespace "$NAMESPACE" --name "$attr" --type Keyword
	fi
done
echo "temporal-setup: done"
