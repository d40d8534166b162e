package coordinator

import (
	"context"
	"time"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// initialTokenLoop installs Config.InitialToken as the first admin token
// while the state holds no token. It goes through the same command as
// `nightshift tokens bootstrap` (PutToken with bootstrap set), so the FSM
// still applies it only to a state without tokens: a cluster whose first
// token was made by hand, or that already installed this one, is left as
// it is. Only the secret's hash enters the log.
func (s *Server) initialTokenLoop(ctx context.Context) {
	if s.cfg.InitialToken == "" {
		return
	}
	id, hash, err := rpc.ParseToken(s.cfg.InitialToken)
	if err != nil {
		return // Validate refused it already
	}
	install := func() bool {
		if len(s.store.Snapshot().Tokens()) > 0 {
			return false
		}
		now := time.Now()
		t := &pb.Token{Id: id, Name: "initial", Role: "admin", SecretSha256: hash, CreatedBy: "config"}
		actx, cancel := context.WithTimeout(ctx, applyTimeout)
		defer cancel()
		if _, err := s.apply(actx, &pb.Command{UnixMs: now.UnixMilli(), Op: &pb.Command_PutToken{PutToken: &pb.PutToken{Token: t, Bootstrap: true}}}); err != nil {
			s.log.Warn("installing the initial admin token", "err", err)
			return true
		}
		s.log.Info("installed the initial admin token", "token", id)
		return false
	}
	if install() {
		every(ctx, time.Second, install)
	}
}
