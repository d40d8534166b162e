package gossip

import (
	"bytes"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// startKeyed starts an encrypted node that counts the deaths it sees.
func startKeyed(t *testing.T, name string, k []byte, deaths *atomic.Int32) *Node {
	t.Helper()
	n, err := Start(Config{Name: name, BindAddr: "127.0.0.1:0", Fast: true, Key: k, Meta: Meta{Role: RoleWorker, ID: name},
		OnChange: func(m Member) {
			if !m.Alive() && deaths != nil {
				deaths.Add(1)
			}
		}})
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { _ = n.Shutdown() })
	return n
}

// everyoneSees waits until each node sees every node alive with cond true
// of its advertised metadata.
func everyoneSees(t *testing.T, nodes []*Node, what string, cond func(Meta) bool) {
	t.Helper()
	waitFor(t, what, func() bool {
		for _, n := range nodes {
			ms := n.Members()
			if len(ms) != len(nodes) {
				return false
			}
			for _, m := range ms {
				if m.MetaErr != nil || !cond(m.Meta) {
					return false
				}
			}
		}
		return true
	})
}

// TestKeyRotationWithoutFalseDeaths rotates three members from key A to
// key B in the three steps a rotation takes, letting several probe rounds
// pass after each: nobody is ever suspected to death, every member
// advertises each step, and afterwards a node with only the old key (or
// with none) cannot join while one with the new key can.
func TestKeyRotationWithoutFalseDeaths(t *testing.T) {
	var deaths atomic.Int32
	a, b := key('a'), key('b')
	nodes := []*Node{startKeyed(t, "n1", a, &deaths), startKeyed(t, "n2", a, &deaths), startKeyed(t, "n3", a, &deaths)}
	for _, n := range nodes[1:] {
		if _, err := n.ml.Join([]string{nodes[0].Addr()}); err != nil {
			t.Fatal(err)
		}
	}
	idA, idB := KeyID(a), KeyID(b)
	everyoneSees(t, nodes, "all on key A", func(m Meta) bool { return m.Primary == idA })

	steps := []struct {
		what    string
		keys    [][]byte
		primary []byte
		check   func(Meta) bool
	}{
		{"install B", [][]byte{a, b}, a, func(m Meta) bool { return slices.Contains(m.Keys, idB) && m.Primary == idA }},
		{"use B", [][]byte{a, b}, b, func(m Meta) bool { return m.Primary == idB }},
		{"remove A", [][]byte{b}, b, func(m Meta) bool { return slices.Equal(m.Keys, []string{idB}) }},
	}
	for _, st := range steps {
		// One member at a time, as heartbeats and Raft deliver it.
		for _, n := range nodes {
			if err := n.SetKeyring(st.keys, st.primary); err != nil {
				t.Fatalf("%s: %v", st.what, err)
			}
		}
		everyoneSees(t, nodes, st.what, st.check)
		time.Sleep(1500 * time.Millisecond) // several probe and suspicion rounds
	}
	if d := deaths.Load(); d != 0 {
		t.Fatalf("the rotation caused %d member deaths", d)
	}

	old := startKeyed(t, "old", a, nil)
	if _, err := old.ml.Join([]string{nodes[0].Addr()}); err == nil {
		t.Fatal("a node with only the removed key joined")
	}
	clear := startNode(t, "clear", "127.0.0.1:0")
	if _, err := clear.ml.Join([]string{nodes[0].Addr()}); err == nil {
		t.Fatal("a node without encryption joined")
	}
	fresh := startKeyed(t, "fresh", b, nil)
	if _, err := fresh.ml.Join([]string{nodes[0].Addr()}); err != nil {
		t.Fatalf("a node with the new key cannot join: %v", err)
	}
	waitFor(t, "the new node seen", func() bool { return hasMember(nodes[1], "fresh") })
	for _, n := range nodes {
		if hasMember(n, "old") || hasMember(n, "clear") {
			t.Fatalf("%s sees a member without the key", n.cfg.Name)
		}
	}
}

// TestPrimaryBeforeInstallIsNoticed is the wrong order a rotation must
// avoid: one member encrypts with a key the others lack, and they stop
// hearing it. It shows the confirmations matter (and that the test above
// would see a mistake).
func TestPrimaryBeforeInstallIsNoticed(t *testing.T) {
	var deaths atomic.Int32
	a, b := key('a'), key('b')
	n1, n2 := startKeyed(t, "n1", a, &deaths), startKeyed(t, "n2", a, &deaths)
	if _, err := n2.ml.Join([]string{n1.Addr()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "joined", func() bool { return hasMember(n1, "n2") })
	if err := n2.SetKeyring([][]byte{b}, b); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "n1 declares n2 dead", func() bool { return deaths.Load() > 0 })
}

func TestSetKeyringRefusals(t *testing.T) {
	clear := startNode(t, "clear", "127.0.0.1:0")
	if err := clear.SetKeyring([][]byte{key('a')}, key('a')); !errors.Is(err, ErrNotEncrypted) {
		t.Fatalf("unencrypted node: %v", err)
	}
	n := startKeyed(t, "k", key('a'), nil)
	if err := n.SetKeyring([][]byte{key('a')}, key('b')); err == nil {
		t.Fatal("a primary outside the ring was accepted")
	}
	if err := n.SetKeyring([][]byte{key('a'), []byte("short")}, key('a')); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
	if ids, p := n.KeyIDs(); !slices.Equal(ids, []string{KeyID(key('a'))}) || p != KeyID(key('a')) {
		t.Fatalf("a refused change altered the ring: %v %s", ids, p)
	}
}
