"""Parses a Prometheus text page from stdin with prometheus_client's parser (what a real
scraper library reads) and prints every sample as JSON: [name, labels, value]."""

import json
import sys

from prometheus_client.parser import text_string_to_metric_families

samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        samples.append([s.name, s.labels, s.value])
json.dump(samples, sys.stdout)
