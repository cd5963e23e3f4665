//go:build !linux

package uring

import (
	"errors"
	"testing"
)

func TestNewLinuxOnly(t *testing.T) {
	if _, err := New(Config{}); !errors.Is(err, ErrLinuxOnly) {
		t.Errorf("New: %v, want ErrLinuxOnly", err)
	}
	if err := CheckServer(); !errors.Is(err, ErrLinuxOnly) {
		t.Errorf("CheckServer: %v, want ErrLinuxOnly", err)
	}
}
