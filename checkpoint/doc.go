// Package checkpoint reads and writes PyTorch-compatible .pth files (zip + pickle) in pure Go.
//
// Write and WriteFile produce what torch.save writes by default in torch 1.13:
// a zip archive of stored records archive/data.pkl (a protocol 2 pickle),
// archive/data/<n> (raw little-endian storages, each at a 64-byte aligned
// offset as PyTorch's writer pads them) and archive/version. Read and ReadFile
// accept those, torch.save's own files (any archive folder name, shared storages,
// views with offsets and strides) and the legacy non-zip format
// (_use_new_zipfile_serialization=False, which MMSelfSup's publish_model.py uses).
// Checkpoint, Save and Load add MMCV's {"meta", "state_dict", "optimizer"} layout.
//
// # Values
//
// A checkpoint is a tree of nil, bool, int64 (or *big.Int), float64, string,
// []byte, []any (Python list), Tuple, *Dict (dict or OrderedDict, any hashable
// keys such as the optimizer's int parameter ids) and *Tensor. Read never returns
// views: each tensor owns contiguous Data, even where tensors shared a storage in
// the file; a tensor pickled twice (the same Python object) is one *Tensor.
//
// # Safety
//
// Unpickling runs no code: only torch's tensor and storage rebuilders,
// OrderedDict, torch.Size, bytes and numpy scalars are recognised, and any other
// pickle global is an error naming it. Corrupt or truncated files give errors
// naming the file and the problem (CRCs are checked); sizes are validated before
// memory is allocated.
//
// # Durability
//
// WriteFile writes a temporary file in the target directory, syncs it, renames
// it over the target and syncs the directory, so the target is always either the
// previous complete checkpoint or the new one.
package checkpoint
