package actors

import (
	"fmt"
	"sort"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/data"
)

// Extension is machinery an algorithm needs beside its step: a memory
// bank, a clusterer, a queue. Train builds the extensions registered for
// the config's model type after the model and the runner exist. An
// extension acts through the optional interfaces below: it may be a Hook
// (added to the runner), Stateful (saved in and restored from
// checkpoints) and a Spawner (actors of its own in the run's system).
type Extension interface {
	Name() string
}

// ExtensionEnv is what an extension builder sees.
type ExtensionEnv struct {
	Config  *configs.Config
	Setup   *Setup
	Runner  *Runner
	Source  data.Source
	Sampler *Sampler // the training sampler, before Run copies it: builders may change it
	Metrics *Metrics
	Log     zerolog.Logger
}

// ExtensionBuilder builds an algorithm's extension; a nil Extension with a
// nil error means the config asks for none.
type ExtensionBuilder func(env *ExtensionEnv) (Extension, error)

var extensions = map[string][]ExtensionBuilder{}

// RegisterExtension adds an extension builder for an algorithm type
// (called from init). An algorithm may have several.
func RegisterExtension(algoType string, b ExtensionBuilder) {
	extensions[algoType] = append(extensions[algoType], b)
}

// BuildExtensions builds the extensions registered for algoType.
func BuildExtensions(algoType string, env *ExtensionEnv) ([]Extension, error) {
	var out []Extension
	for _, b := range extensions[algoType] {
		e, err := b(env)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", algoType, err)
		}
		if e != nil {
			out = append(out, e)
		}
	}
	return out, nil
}

// Stateful extensions carry state across checkpoints. SaveState runs on
// the runner's pinned thread at a checkpoint; its dict is stored under the
// checkpoint's top-level "flowssl_state" entry, keyed by Name.
type Stateful interface {
	Extension
	SaveState() (*checkpoint.Dict, error)
	LoadState(d *checkpoint.Dict) error
}

// Spawner extensions run actors of their own. Spawn is called once the
// run's actor system exists and before the first batch; fail ends the run
// with an error. Spawn returns a stop func that Run calls after the
// trainer has stopped.
type Spawner interface {
	Extension
	Spawn(root *actor.RootContext, props func(st *Stage, p actor.Producer) *actor.Props, fail func(error)) (stop func(), err error)
}

// stateKey is the checkpoint entry that holds extension state.
const stateKey = "flowssl_state"

// saveExtensions adds every Stateful extension's state to ck.
func saveExtensions(exts []Extension, ck *checkpoint.Checkpoint) error {
	var all *checkpoint.Dict
	for _, e := range exts {
		s, ok := e.(Stateful)
		if !ok {
			continue
		}
		d, err := s.SaveState()
		if err != nil {
			return fmt.Errorf("%s state: %w", e.Name(), err)
		}
		if all == nil {
			all = checkpoint.NewDict()
		}
		all.Set(e.Name(), d)
	}
	if all == nil {
		return nil
	}
	if ck.Extra == nil {
		ck.Extra = checkpoint.NewDict()
	}
	ck.Extra.Set(stateKey, all)
	return nil
}

// loadExtensions restores every Stateful extension from ck. A checkpoint
// without an extension's state (an MMSelfSup one, or one written before
// the extension existed) is an error naming what is missing: resuming
// without it would silently start the memory or clustering from scratch.
func loadExtensions(exts []Extension, ck *checkpoint.Checkpoint) error {
	var all *checkpoint.Dict
	if ck.Extra != nil {
		if v, ok := ck.Extra.Get(stateKey); ok {
			all, _ = v.(*checkpoint.Dict)
		}
	}
	var missing []string
	for _, e := range exts {
		s, ok := e.(Stateful)
		if !ok {
			continue
		}
		var d *checkpoint.Dict
		if all != nil {
			if v, ok := all.Get(e.Name()); ok {
				d, _ = v.(*checkpoint.Dict)
			}
		}
		if d == nil {
			missing = append(missing, e.Name())
			continue
		}
		if err := s.LoadState(d); err != nil {
			return fmt.Errorf("%s state: %w", e.Name(), err)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("checkpoint has no %s state for %s", stateKey, strings.Join(missing, ", "))
	}
	return nil
}
