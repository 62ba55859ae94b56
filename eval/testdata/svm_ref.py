"""scikit-learn reference for eval/svm_test.go.

Reads DIR/{xtr,xte}.f64 (row-major float64, already L2-normalised as
MMSelfSup's SVM scripts do) and DIR/{ytr,yte}.i64, fits one-vs-rest
LinearSVC per class and cost with MMSelfSup's settings (class_weight
{1: 2, -1: 1}, squared hinge, l2, dual, tol 1e-4, max_iter 2000,
intercept_scaling 1) and writes DIR/ref.json: the test decision values per
cost and class, and the arg-max accuracy per cost.
"""
import json
import sys

import numpy as np
from sklearn.svm import LinearSVC

d = sys.argv[1]
dim = int(sys.argv[2])
costs = [float(c) for c in sys.argv[3].split(",")]
xtr = np.fromfile(f"{d}/xtr.f64", dtype="<f8").reshape(-1, dim)
xte = np.fromfile(f"{d}/xte.f64", dtype="<f8").reshape(-1, dim)
ytr = np.fromfile(f"{d}/ytr.i64", dtype="<i8")
yte = np.fromfile(f"{d}/yte.i64", dtype="<i8")
classes = int(max(ytr.max(), yte.max())) + 1
out = {"decisions": [], "accuracy": []}
for cost in costs:
    dec = np.zeros((len(yte), classes))
    for c in range(classes):
        y = np.where(ytr == c, 1, -1)
        clf = LinearSVC(C=cost, class_weight={1: 2, -1: 1}, intercept_scaling=1.0, verbose=0, penalty="l2",
                        loss="squared_hinge", tol=0.0001, dual=True, max_iter=2000,
                        random_state=0)
        clf.fit(xtr, y)
        dec[:, c] = clf.decision_function(xte)
    out["decisions"].append(dec.tolist())
    out["accuracy"].append(float(100.0 * (dec.argmax(1) == yte).mean()))
with open(f"{d}/ref.json", "w") as f:
    json.dump(out, f)
