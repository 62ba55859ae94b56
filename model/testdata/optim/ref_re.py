"""Python re.search truth table for model/paramwise_test.go.
stdin: {"patterns": [...], "names": [...]}; stdout: [[bool per name] per pattern]."""
import json
import re
import sys

m = json.load(sys.stdin)
json.dump([[re.search(p, n) is not None for n in m['names']] for p in m['patterns']], sys.stdout)
