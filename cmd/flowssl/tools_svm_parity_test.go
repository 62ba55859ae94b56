package main

import (
	"context"
	"encoding/json"
	"math"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/flowssl/flowssl/configs"
)

// svmSklearnRef refits MMSelfSup's one-vs-rest SVMs with scikit-learn on
// the features `flowssl extract` wrote: rows divided by their L2 norm +
// 1e-5, LinearSVC(C, class_weight {1: 2, -1: 1}, squared hinge, l2, dual,
// tol 1e-4, max_iter 2000) per class (MMSelfSup's train_svm_kfold.py), the
// VOC07 AP of svm_helper.py (get_precision_recall + calculate_ap), and the
// arg-max top-1 over the per-class decisions.
const svmSklearnRef = `import json, sys
import numpy as np
from sklearn.svm import LinearSVC
tr, te, cost = sys.argv[1], sys.argv[2], float(sys.argv[3])
def load(p):
    x = np.load(p).astype(np.float64)
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-5), np.load(p[:-4] + "_labels.npy")
xtr, ytr = load(tr)
xte, yte = load(te)
def ap(y, s):
    order = np.argsort(-s, kind="stable")
    t = (y[order] == 1)
    tp, fp = np.cumsum(t), np.cumsum(~t)
    rec, prec = tp / max(1, t.sum()), tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    mrec, mpre = np.concatenate(([0.], rec, [1.])), np.concatenate(([0.], prec, [0.]))
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    idx = np.where(mrec[1:] != mrec[:-1])[0] + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mpre[idx]))
classes = int(max(ytr.max(), yte.max())) + 1
dec, aps = np.zeros((len(yte), classes)), []
for c in range(classes):
    clf = LinearSVC(C=cost, class_weight={1: 2, -1: 1}, intercept_scaling=1.0, penalty="l2", loss="squared_hinge",
                    tol=0.0001, dual=True, max_iter=2000, random_state=0)
    clf.fit(xtr, np.where(ytr == c, 1, -1))
    dec[:, c] = clf.decision_function(xte)
    aps.append(ap(np.where(yte == c, 1, -1), dec[:, c]))
print(json.dumps({"top1": float(100 * (dec.argmax(1) == yte).mean()), "map": 100 * float(np.mean(aps))}))
`

// `flowssl svm` at a single cost (so cross-validation has nothing to
// choose) matches scikit-learn's LinearSVC on the same Fashion-MNIST
// features — those `flowssl extract` writes for 1000 train and 500 test
// images — within 1 point of top-1 and of mAP.
func TestSVMMatchesSklearnFashionMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("extracts features and fits SVMs")
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import sklearn, numpy").Run(); err != nil {
		t.Skip("/usr/bin/python3 lacks scikit-learn (apt-get install python3-sklearn)")
	}
	dir := t.TempDir()
	train, val := fashionLists(t, dir, 1000, 500)
	ds := fashionDatasetConfig(t, dir, train, val)
	lo := layerOptions{Layers: []string{"feat5"}, PoolType: "adaptive", Batch: 100, Workers: 2, Seed: 3}
	cfg, err := loadConfig(linearShapes, narrowResNet)
	if err != nil {
		t.Fatal(err)
	}
	dsCfg, err := configs.Load(ds, configs.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wd := filepath.Join(dir, "extract")
	if _, err := runExtract(context.Background(), cfg, dsCfg, []string{"train", "val"}, wd, lo); err != nil {
		t.Fatal(err)
	}
	for _, cost := range []float64{1, 0.0625} {
		res, err := runSVM(context.Background(), svmOptions{layerOptions: lo, Config: linearShapes, Opts: narrowResNet,
			DatasetConfig: ds, WorkDir: filepath.Join(dir, "svm"), Costs: []float64{cost}})
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("/usr/bin/python3", "-c", svmSklearnRef, layerFileName(wd, "train", 4), layerFileName(wd, "val", 4),
			strconv.FormatFloat(cost, 'g', -1, 64)).CombinedOutput()
		if err != nil {
			t.Fatalf("scikit-learn reference: %v\n%s", err, out)
		}
		var ref struct{ Top1, MAP float64 }
		if err := json.Unmarshal(out, &ref); err != nil {
			t.Fatalf("scikit-learn reference: %v\n%s", err, out)
		}
		got := res[0].Full
		t.Logf("C=%g: top-1 %.2f (sklearn %.2f), mAP %.2f (sklearn %.2f)", cost, got.Top1, ref.Top1, got.MeanAP, ref.MAP)
		if math.Abs(got.Top1-ref.Top1) > 1 || math.Abs(got.MeanAP-ref.MAP) > 1 {
			t.Errorf("C=%g: flowssl top-1 %.2f / mAP %.2f, scikit-learn %.2f / %.2f", cost, got.Top1, got.MeanAP, ref.Top1, ref.MAP)
		}
		if got.Top1 < 50 {
			t.Errorf("C=%g: top-1 %.2f: features carry too little signal for a meaningful comparison", cost, got.Top1)
		}
	}
}
