// Package memory holds memory banks and queues (NPID, ODC, SwAV).
//
// SimpleMemory is NPID's bank with its alias-method negative sampler
// (models/memories/simple_memory.py, utils/alias_multinomial.py), ODCMemory
// is ODC's samples + centroids memory (models/memories/odc_memory.py) and
// SwAVQueue is the feature queue that SwAVHook owns and SwAVHead fills
// (core/hooks/swav_hook.py, heads/swav_head.py); components.md §5 and
// algorithms.md §§4, 5, 12. Collectives of the distributed originals are
// identities (one process).
//
// # Threads
//
// A memory's tensors live on the device given at construction and belong
// to one OS thread: create it, call its methods and Close it from the same
// goroutine, locked with runtime.LockOSThread (gotch's last error and
// libtorch's grad mode are per thread). An actor owning a memory does all
// of this on its pinned thread, between training steps or on messages from
// the trainer. Methods are not safe for concurrent use. Alias (and
// SimpleMemory.Negatives, which only uses it) touches no tensor, so another
// goroutine may draw negatives ahead of the step. In training, actors'
// Memory actor owns SimpleMemory and ODCMemory on its own thread: NPID's
// step asks it for Gather's rows (negatives from NegativeRNG(seed, iter))
// and hands its features to Update without waiting.
//
// # Ownership
//
// Methods never drop their inputs; inputs may be on any device (they are
// moved). Returned tensors (Logits, Labels, Extend, State maps) belong to
// the caller; accessors named after the state (Bank, Features,
// LabelsTensor, Centroids, Tensor) lend the live tensor, valid until Close
// and not to be modified. Updates run without gradient and write in place.
//
// # Checkpoints
//
// State returns deep copies keyed by MMSelfSup's attribute names
// ("feature_bank", "label_bank", "centroids"; "queue" as in queue.pth), so
// a checkpointer may serialise them on another thread once it owns them;
// LoadState checks keys, shapes and dtypes and copies them in. MMSelfSup
// itself checkpoints none of these (the SwAV queue goes to its own file).
//
// # Determinism
//
// Random draws (initial bank, negatives, ODC's split fallbacks) come from
// the *rand.Rand passed in.
package memory
