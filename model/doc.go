// Package model holds the gotch networks, heads, losses, algorithms, optimizers and schedules.
package model
