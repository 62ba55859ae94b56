// Package configs holds flowssl's embedded MMSelfSup-style configs and the loader that resolves _base_, _delete_ and --cfg-options.
//
// # Loading
//
// Load resolves a config file the way mmcv 1.5's Config.fromfile does (spec/config.md §2):
// predefined variables ({{ fileDirname }} …) are substituted in the text, {{_base_.a.b}}
// references are replaced by values of the combined bases, every file named by _base_
// (relative to the file) is loaded recursively, bases are combined (a key defined by two
// bases is an error) and the file is merged into them (maps merge key by key, everything
// else — lists included — replaces; _delete_: true replaces a map whole). YAML, JSON and the
// Python subset of package pyconf are accepted, in any mix. Files come from disk or from the
// embedded tree (FS), which mirrors MMSelfSup's configs/ directory.
//
// # Deviations from mmcv
//
// A _delete_ key is always removed (mmcv leaves it in when the key is new to the base);
// {{_base_.x}} inside a longer string is interpolated with the referenced scalar (mmcv
// leaves a broken placeholder there); placeholders are deterministic, not random.
//
// # Typed access
//
// Decode fills Go structs from a tree with errors that name the key path; Spec is the
// typed schema of a whole config.
package configs
