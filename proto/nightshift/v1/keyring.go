package nightshiftv1

import "fmt"

// Material returns the ring's keys and its primary key, as memberlist
// takes them (gossip.Node.SetKeyring); an error when the primary is not
// among the keys (a ring the FSM would never write).
func (r *GossipKeyring) Material() (keys [][]byte, primary []byte, err error) {
	for _, k := range r.GetKeys() {
		keys = append(keys, k.Key)
		if k.Id == r.GetPrimary() {
			primary = k.Key
		}
	}
	if primary == nil {
		return nil, nil, fmt.Errorf("gossip keyring version %d: primary %s is not among its keys", r.GetVersion(), r.GetPrimary())
	}
	return keys, primary, nil
}
