package gossip

import (
	"encoding/json"
	"fmt"
)

// Roles a node advertises.
const (
	RoleCoordinator = "coordinator"
	RoleWorker      = "worker"
)

// Meta is what a node advertises to the cluster. It must fit memberlist's
// 512-byte metadata limit once encoded.
type Meta struct {
	Role    string            `json:"r"`
	ID      string            `json:"id"`
	Pool    string            `json:"p,omitempty"`
	Slots   int               `json:"s,omitempty"`
	Labels  map[string]string `json:"l,omitempty"`
	GRPC    string            `json:"g,omitempty"`
	Raft    string            `json:"rf,omitempty"`
	Version string            `json:"v,omitempty"`
	State   string            `json:"st,omitempty"`
	// Expect is a coordinator's bootstrap_expect: it forms a new cluster
	// with the others that advertise the same number, and the leader adds
	// it to an existing one (coordinator/autojoin.go). 0: added by hand.
	Expect int `json:"be,omitempty"`
	// Keys are the IDs (KeyID) of the gossip keys the node holds and
	// Primary the one it encrypts with: a key rotation's confirmations.
	// The node fills them in itself.
	Keys    []string `json:"k,omitempty"`
	Primary string   `json:"kp,omitempty"`
}

// maxMeta is memberlist's MetaMaxSize.
const maxMeta = 512

// Encode returns the wire form of m, or an error when it is too large.
func (m Meta) Encode() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if len(b) > maxMeta {
		return nil, fmt.Errorf("gossip: node metadata is %d bytes, limit %d (fewer or shorter labels)", len(b), maxMeta)
	}
	return b, nil
}

// DecodeMeta parses a node's metadata.
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) == 0 {
		return m, fmt.Errorf("gossip: empty node metadata")
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("gossip: bad node metadata: %w", err)
	}
	return m, nil
}

// CheckKey validates a gossip encryption key: none, or AES-128/192/256.
func CheckKey(key []byte) error {
	if n := len(key); n != 0 && n != 16 && n != 24 && n != 32 {
		return fmt.Errorf("gossip_key must be 16, 24 or 32 bytes, got %d", n)
	}
	return nil
}
