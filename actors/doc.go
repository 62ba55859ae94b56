// Package actors wires the training dataflow as protoactor-go actors.
package actors
