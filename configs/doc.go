// Package configs holds flowssl's embedded MMSelfSup-style configs and the loader that resolves _base_, _delete_ and --cfg-options.
package configs
