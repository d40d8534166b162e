package gossip

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Key rotation (docs/architecture.md §9). memberlist encrypts with the
// keyring's primary key and decrypts with any key of the ring, so a
// rotation that never drops a message is: install the new key everywhere,
// then make it primary everywhere, then remove the old one. Each member
// advertises in its metadata which keys it holds and which one it
// encrypts with; whoever drives the rotation (the coordinator leader)
// takes the next step only when every live member confirmed the last.

// ErrNotEncrypted is returned by keyring operations on a member started
// without a key: memberlist cannot start encrypting a running cluster.
var ErrNotEncrypted = errors.New("gossip is not encrypted: set gossip_key on every node (and restart them) before rotating keys")

// KeyID names a key without revealing it: the first 6 bytes of its
// SHA-256, hex. It is what metadata, the CLI and the state show.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:6])
}

// Encrypted reports whether the member encrypts gossip.
func (n *Node) Encrypted() bool { return n.keyring() != nil }

// PrimaryKey returns the key the member encrypts with (nil without one).
func (n *Node) PrimaryKey() []byte {
	if kr := n.keyring(); kr != nil {
		return kr.GetPrimaryKey()
	}
	return nil
}

// KeyIDs returns the IDs of the keys the member holds, in the keyring's
// order, and the primary's.
func (n *Node) KeyIDs() (ids []string, primary string) {
	kr := n.keyring()
	if kr == nil {
		return nil, ""
	}
	for _, k := range kr.GetKeys() {
		ids = append(ids, KeyID(k))
	}
	return ids, KeyID(kr.GetPrimaryKey())
}

// SetKeyring makes the member's keyring exactly keys with primary
// encrypting, in the order that keeps every message readable: add the new
// keys, switch the primary, drop the rest. It then advertises the change
// (waiting at most a second for the broadcast to leave; the next gossip
// round carries it anyway).
func (n *Node) SetKeyring(keys [][]byte, primary []byte) error {
	kr := n.keyring()
	if kr == nil {
		return ErrNotEncrypted
	}
	if !slices.ContainsFunc(keys, func(k []byte) bool { return bytes.Equal(k, primary) }) {
		return fmt.Errorf("gossip keyring: primary key %s is not among the keys", KeyID(primary))
	}
	for _, k := range keys {
		if err := CheckKey(k); err != nil || len(k) == 0 {
			return fmt.Errorf("gossip keyring: key %s: %v", KeyID(k), orEmpty(err))
		}
	}
	n.keyMu.Lock()
	defer n.keyMu.Unlock()
	for _, k := range keys {
		if err := kr.AddKey(k); err != nil {
			return fmt.Errorf("gossip keyring: add %s: %w", KeyID(k), err)
		}
	}
	if err := kr.UseKey(primary); err != nil {
		return fmt.Errorf("gossip keyring: use %s: %w", KeyID(primary), err)
	}
	for _, k := range kr.GetKeys() {
		if !slices.ContainsFunc(keys, func(w []byte) bool { return bytes.Equal(w, k) }) {
			if err := kr.RemoveKey(k); err != nil {
				return fmt.Errorf("gossip keyring: remove %s: %w", KeyID(k), err)
			}
		}
	}
	n.mu.Lock()
	err := n.encodeMetaLocked()
	n.mu.Unlock()
	if err != nil {
		return err
	}
	if err := n.ml.UpdateNode(time.Second); err != nil {
		n.logDebug("gossip keyring advertised late", "err", err)
	}
	return nil
}

func orEmpty(err error) error {
	if err == nil {
		return errors.New("empty key")
	}
	return err
}
