package main

import (
	"slices"
	"testing"

	"github.com/flowssl/flowssl/model"
)

func TestMissingEnvKeepsUserSettings(t *testing.T) {
	want := model.RecommendedEnv()
	for _, kv := range []string{"OMP_WAIT_POLICY=PASSIVE", "OPENBLAS_NUM_THREADS=1"} {
		if !slices.Contains(want, kv) {
			t.Fatalf("model.RecommendedEnv() = %v lacks %s", want, kv)
		}
	}
	for _, c := range []struct {
		name string
		set  map[string]string
		want []string
	}{
		{"nothing set", nil, []string{"OMP_WAIT_POLICY=PASSIVE", "OPENBLAS_NUM_THREADS=1"}},
		{"user's value wins", map[string]string{"OMP_WAIT_POLICY": "ACTIVE"}, []string{"OPENBLAS_NUM_THREADS=1"}},
		{"empty value counts as set", map[string]string{"OMP_WAIT_POLICY": "", "OPENBLAS_NUM_THREADS": ""}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := missingEnv(want, func(k string) (string, bool) { v, ok := c.set[k]; return v, ok })
			if !slices.Equal(got, c.want) {
				t.Fatalf("missingEnv = %v, want %v", got, c.want)
			}
		})
	}
}
