"""Reference evaluator for pyconf parity tests: executes a config file with CPython and
prints its top-level names as JSON (tuples become lists, floats keep a '.' or exponent)."""
import json
import sys
import types


def conv(v):
    if isinstance(v, dict):
        return {"__map__": [[k, conv(x)] for k, x in v.items()]}
    if isinstance(v, (list, tuple)):
        return [conv(x) for x in v]
    if isinstance(v, float):
        return {"__float__": repr(v)}
    return v


def main():
    out = []
    for path in sys.argv[1:]:
        ns = {}
        with open(path) as f:
            src = f.read()
        exec(compile(src, path, "exec"), ns)
        names = [[k, conv(v)] for k, v in ns.items()
                 if not k.startswith("__")
                 and not isinstance(v, (types.ModuleType, types.FunctionType, type, types.BuiltinFunctionType))]
        out.append({"path": path, "names": names})
    json.dump(out, sys.stdout)


main()
