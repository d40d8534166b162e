package coordinator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// The console's actions: each is the gRPC method of the same name, called
// in process with the console user's token, so it needs the same role
// (methodRoles), records the same identity, and is forwarded to the
// leader like any call. A POST must carry the X-Nightshift-Console
// header (a page script sets it; a cross-site form cannot), besides the
// SameSite=Strict cookie.

const consoleActionHeader = "X-Nightshift-Console"

type consoleAction struct {
	method string // the gRPC method whose role it needs
	call   func(ctx context.Context, s *Server, r *http.Request) error
}

var consoleActions = map[string]consoleAction{
	"POST /ui/api/jobs/{id}/cancel": {"/nightshift.v1.JobService/CancelJob", func(ctx context.Context, s *Server, r *http.Request) error {
		_, err := (&jobAPI{s: s}).CancelJob(ctx, &pb.CancelJobRequest{Id: r.PathValue("id"), Reason: reasonOf(r), RequestId: requestID()})
		return err
	}},
	"POST /ui/api/workers/{id}/drain": {"/nightshift.v1.AdminService/DrainWorker", func(ctx context.Context, s *Server, r *http.Request) error {
		_, err := (&adminAPI{s: s}).DrainWorker(ctx, &pb.DrainWorkerRequest{Id: r.PathValue("id"), RequestId: requestID()})
		return err
	}},
	"POST /ui/api/workers/{id}/undrain": {"/nightshift.v1.AdminService/UndrainWorker", func(ctx context.Context, s *Server, r *http.Request) error {
		_, err := (&adminAPI{s: s}).UndrainWorker(ctx, &pb.DrainWorkerRequest{Id: r.PathValue("id"), RequestId: requestID()})
		return err
	}},
	"POST /ui/api/schedules/{name}/pause": {"/nightshift.v1.ScheduleService/PauseSchedule", func(ctx context.Context, s *Server, r *http.Request) error {
		_, err := (&scheduleAPI{s: s}).PauseSchedule(ctx, &pb.PauseScheduleRequest{Name: r.PathValue("name"), Paused: r.URL.Query().Get("resume") == "", Reason: reasonOf(r), RequestId: requestID()})
		return err
	}},
	"POST /ui/api/models/{name}/promote": {"/nightshift.v1.ModelService/PromoteModel", func(ctx context.Context, s *Server, r *http.Request) error {
		v, _ := strconv.Atoi(r.URL.Query().Get("version"))
		_, err := (&modelAPI{s: s}).PromoteModel(ctx, &pb.PromoteModelRequest{Name: r.PathValue("name"), Version: int32(v), Reason: reasonOf(r), RequestId: requestID()})
		return err
	}},
	"POST /ui/api/models/{name}/rollback": {"/nightshift.v1.ModelService/RollbackModel", func(ctx context.Context, s *Server, r *http.Request) error {
		_, err := (&modelAPI{s: s}).RollbackModel(ctx, &pb.RollbackModelRequest{Name: r.PathValue("name"), Reason: reasonOf(r), RequestId: requestID()})
		return err
	}},
}

// consoleActionRoutes registers the actions on mux.
func (s *Server) consoleActionRoutes(mux *http.ServeMux) {
	for pattern, a := range consoleActions {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { s.consoleAct(w, r, a) })
	}
}

func (s *Server) consoleAct(w http.ResponseWriter, r *http.Request, a consoleAction) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Header.Get(consoleActionHeader) == "" {
		http.Error(w, "console actions need the "+consoleActionHeader+" header", http.StatusForbidden)
		return
	}
	ctx := r.Context()
	if s.tokensOn() {
		c, err := r.Cookie(consoleCookie)
		if err != nil {
			http.Error(w, "log in at /ui/login", http.StatusUnauthorized)
			return
		}
		header := rpc.BearerHeader(c.Value)
		need, _ := neededRole(a.method)
		who, err := s.checkBearer(header, need, a.method)
		if err != nil {
			writeStatusError(w, err)
			return
		}
		// The token goes on with the call, as a gRPC caller's would: a
		// follower forwards it and the leader checks it again.
		ctx = context.WithValue(metadata.NewIncomingContext(ctx, metadata.Pairs(rpc.AuthorizationHeader, header)), identityKey{}, who)
	}
	if err := a.call(ctx, s, r); err != nil {
		writeStatusError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// writeStatusError answers with the HTTP status of a gRPC error.
func writeStatusError(w http.ResponseWriter, err error) {
	st := status.Convert(err)
	code := http.StatusInternalServerError
	switch st.Code() {
	case codes.Unauthenticated:
		code = http.StatusUnauthorized
	case codes.PermissionDenied:
		code = http.StatusForbidden
	case codes.NotFound:
		code = http.StatusNotFound
	case codes.InvalidArgument, codes.FailedPrecondition, codes.AlreadyExists:
		code = http.StatusBadRequest
	case codes.Unavailable:
		code = http.StatusServiceUnavailable
	}
	http.Error(w, st.Message(), code)
}

func reasonOf(r *http.Request) string {
	if why := r.URL.Query().Get("reason"); why != "" {
		return why
	}
	return "from the console"
}

func requestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "console-" + hex.EncodeToString(b[:])
}
