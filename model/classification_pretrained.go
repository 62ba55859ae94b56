package model

import (
	"fmt"
	"strings"

	"github.com/sugarme/gotch/nn"

	"github.com/flowssl/flowssl/checkpoint"
)

// loadPretrainedBackbone loads a backbone init_cfg {type: Pretrained,
// checkpoint: PATH, prefix: P} into vs's backbone.* variables as mmcv's
// PretrainedInit does: keys under P (P "" = all keys, see Classification
// for the "backbone." fallback) are loaded non-strictly; a shape mismatch
// is an error, as in torch's load_state_dict. It fails when no key matches
// the backbone, and returns a note counting what was loaded and missed.
func loadPretrainedBackbone(vs *nn.VarStore, spec map[string]any) (string, error) {
	path, _ := spec["checkpoint"].(string)
	if path == "" {
		return "", fmt.Errorf("Pretrained: checkpoint missing or not a string (%v)", spec["checkpoint"])
	}
	prefix := ""
	if v, ok := spec["prefix"]; ok && v != nil {
		s, isStr := v.(string)
		if !isStr {
			return "", fmt.Errorf("Pretrained: prefix %v is not a string", v)
		}
		prefix = s
	}
	ck, err := checkpoint.Load(path)
	if err != nil {
		return "", err
	}
	sd, err := backboneStateDict(ck.StateDict, prefix)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	named, err := NamedFromCheckpoint(sd)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	defer DropNamed(named)
	for i := range named {
		named[i].Name = "backbone." + named[i].Name
	}
	missing, unexpected, err := LoadStateDict(vs, named, false)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	var missBackbone []string
	for _, k := range missing {
		if strings.HasPrefix(k, "backbone.") {
			missBackbone = append(missBackbone, k)
		}
	}
	loaded := len(named) - len(unexpected)
	if loaded == 0 {
		return "", fmt.Errorf("%s: none of its %d keys (prefix %q) is a backbone key", path, len(named), prefix)
	}
	note := fmt.Sprintf("model.backbone.init_cfg: loaded %d tensors from %s", loaded, path)
	if len(missBackbone) > 0 {
		note += fmt.Sprintf("; missing keys (left at init): %s", strings.Join(missBackbone, ", "))
	}
	if len(unexpected) > 0 {
		note += fmt.Sprintf("; %d unexpected keys ignored", len(unexpected))
	}
	return note, nil
}

// backboneStateDict selects the entries under prefix (a trailing "." is
// added, as mmcv does) with the prefix removed; with no prefix, a state
// dict with "backbone.*" keys (a whole algorithm checkpoint: a backbone's
// own keys never start so) is read as prefix "backbone.".
func backboneStateDict(sd *checkpoint.Dict, prefix string) (*checkpoint.Dict, error) {
	if prefix == "" {
		full := false
		for _, k := range sd.StringKeys() {
			if strings.HasPrefix(k, "backbone.") {
				full = true
				break
			}
		}
		if !full {
			return sd, nil
		}
		prefix = "backbone"
	}
	if !strings.HasSuffix(prefix, ".") {
		prefix += "."
	}
	out := checkpoint.NewOrderedDict()
	for k, v := range sd.All() {
		if s, ok := k.(string); ok && strings.HasPrefix(s, prefix) {
			out.Set(strings.TrimPrefix(s, prefix), v)
		}
	}
	if out.Len() == 0 {
		return nil, fmt.Errorf("no key starts with prefix %q", prefix)
	}
	return out, nil
}
