// Package data reads training samples (bytes or pixels, label) from folders, lists, CIFAR, MNIST and the built-in shapes set.
package data
