#!/usr/bin/env bash
# Uploads what the AMI pipeline reads (docs/deploy.md, "AMI pipeline"): the worker source as a tarball of the
# committed tree (git archive HEAD) and the Image Builder component documents. Models are uploaded separately
# (aws s3 sync <local models dir> s3://<bucket>/<model prefix>/).
# usage: infra/publish-artifacts.sh <bucket> [artifact prefix, default scribefleet/artifacts]
set -euo pipefail
cd "$(dirname "$0")/.."
bucket=${1:?usage: infra/publish-artifacts.sh <bucket> [artifact prefix]}
prefix=${2:-scribefleet/artifacts}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git diff --quiet HEAD -- || echo "note: uncommitted changes are not part of the tarball (git archive HEAD)" >&2
git archive --format=tar.gz -o "$tmp/scribefleet-src.tar.gz" HEAD
aws s3 cp --only-show-errors "$tmp/scribefleet-src.tar.gz" "s3://$bucket/$prefix/scribefleet-src.tar.gz"
for doc in infra/imagebuilder/*.yaml; do
  aws s3 cp --only-show-errors "$doc" "s3://$bucket/$prefix/imagebuilder/$(basename "$doc")"
done
echo "published s3://$bucket/$prefix/{scribefleet-src.tar.gz,imagebuilder/*.yaml} from $(git rev-parse --short HEAD)"
