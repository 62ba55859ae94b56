package actors

import (
	"fmt"
	"strings"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/model"
)

// MapKeys adapts another framework's state-dict keys to flowssl's module
// names: "module." (DataParallel) and "state_dict"/"model" wrappers are
// gone already (checkpoint.FromValue); a bare backbone state dict
// (torchvision's resnet50.pth, extract-backbone output: conv1.weight,
// layer1.0...) gets the "backbone." prefix, and its classifier ("fc.") is
// dropped. own lists the model's keys.
func MapKeys(keys []string, own map[string]bool) map[string]string {
	out := make(map[string]string, len(keys))
	bare := true
	for _, k := range keys {
		if own[strings.TrimPrefix(k, "module.")] {
			bare = false
			break
		}
	}
	for _, k := range keys {
		n := strings.TrimPrefix(k, "module.")
		if bare {
			if strings.HasPrefix(n, "fc.") {
				continue
			}
			n = "backbone." + n
		}
		out[k] = n
	}
	return out
}

// LoadWeights is load_from: the checkpoint's weights go into the model
// non-strictly (optimizer and epoch are not restored), with MapKeys'
// mapping; it returns the model keys the checkpoint lacked and the
// checkpoint keys the model lacks.
func (r *Runner) LoadWeights(ck *checkpoint.Checkpoint) (missing, unexpected []string, err error) {
	err = r.Pinned.Do(func() error {
		named, err := model.NamedFromCheckpoint(ck.StateDict)
		if err != nil {
			return err
		}
		defer model.DropNamed(named)
		own := map[string]bool{}
		for _, e := range model.StateDict(r.VS) {
			own[e.Name] = true
		}
		keys := make([]string, len(named))
		for i, e := range named {
			keys[i] = e.Name
		}
		m := MapKeys(keys, own)
		var use []model.Named
		for _, e := range named {
			n, ok := m[e.Name]
			if !ok {
				unexpected = append(unexpected, e.Name)
				continue
			}
			e.Name = n
			use = append(use, e)
		}
		mis, unx, err := model.LoadStateDict(r.VS, use, false)
		missing = mis
		unexpected = append(unexpected, unx...)
		if err != nil {
			return err
		}
		if len(use) == len(unx) {
			return fmt.Errorf("no key of the checkpoint matches the model")
		}
		return nil
	})
	return missing, unexpected, err
}
