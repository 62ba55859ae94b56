package main

import (
	"slices"
	"testing"

	"github.com/flowssl/flowssl/model"
)

func TestMissingEnvKeepsUserSettings(t *testing.T) {
	want := model.RecommendedEnv()
	if !slices.Contains(want, "OMP_WAIT_POLICY=PASSIVE") {
		t.Fatalf("model.RecommendedEnv() = %v lacks OMP_WAIT_POLICY=PASSIVE", want)
	}
	for _, c := range []struct {
		name string
		set  map[string]string
		want []string
	}{
		{"nothing set", nil, []string{"OMP_WAIT_POLICY=PASSIVE"}},
		{"user's value wins", map[string]string{"OMP_WAIT_POLICY": "ACTIVE"}, nil},
		{"empty value counts as set", map[string]string{"OMP_WAIT_POLICY": ""}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := missingEnv(want, func(k string) (string, bool) { v, ok := c.set[k]; return v, ok })
			if !slices.Equal(got, c.want) {
				t.Fatalf("missingEnv = %v, want %v", got, c.want)
			}
		})
	}
}
