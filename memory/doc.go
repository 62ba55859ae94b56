// Package memory holds memory banks and queues (NPID, ODC, SwAV).
package memory
