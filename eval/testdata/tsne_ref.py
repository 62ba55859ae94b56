"""scikit-learn reference for eval/tsne_test.go.

Reads DIR/x.f64 (N×D row-major float64) and DIR/init.f64 (N×2) and writes
DIR/ref.json with, from scikit-learn 1.2's exact t-SNE:
  p:      the joint probabilities (condensed) of _joint_probabilities on the
          squared distances, as TSNE(method="exact") computes them;
  grad:   the KL gradient at init with P exaggerated 12×;
  y2:     the embedding after 2 steps of _gradient_descent (momentum 0.5,
          learning rate 200) from init with that P;
  kl, y:  kl_divergence_ and the embedding of TSNE(method="exact", init=init,
          perplexity, early_exaggeration 12, learning_rate 200, n_iter).
"""
import json
import sys

import numpy as np
from sklearn.manifold import TSNE, _t_sne
from sklearn.metrics import pairwise_distances

d, dim, perplexity, n_iter = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
x = np.fromfile(f"{d}/x.f64", dtype="<f8").reshape(-1, dim)
init = np.fromfile(f"{d}/init.f64", dtype="<f8").reshape(-1, 2)
n = len(x)
p = _t_sne._joint_probabilities(pairwise_distances(x, squared=True), perplexity, 0)
_, grad = _t_sne._kl_divergence(init.ravel(), p * 12, 1, n, 2)
y2, _, _ = _t_sne._gradient_descent(_t_sne._kl_divergence, init.ravel(), 0, 2, n_iter_check=50,
                                    n_iter_without_progress=250, momentum=0.5, learning_rate=200.0,
                                    args=[p * 12, 1, n, 2], kwargs={})
t = TSNE(n_components=2, perplexity=perplexity, early_exaggeration=12.0, learning_rate=200.0, n_iter=n_iter,
         method="exact", init=init, random_state=0)
y = t.fit_transform(x)
json.dump({"p": p.tolist(), "grad": grad.tolist(), "y2": y2.tolist(), "kl": float(t.kl_divergence_),
           "y": y.tolist()}, open(f"{d}/ref.json", "w"))
