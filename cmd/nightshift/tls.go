package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nightshift-ml/nightshift/proto/rpc"
)

type tlsFlags struct {
	dir   string
	hosts []string
	days  int
	force bool
	out   outputFormat
}

func newTLSCmd() *cobra.Command {
	var f tlsFlags
	cmd := &cobra.Command{
		Use:   "tls --out DIR",
		Short: "Make a development CA and certificates for mutual TLS",
		Long: `tls writes a new certificate authority and one certificate per role, for
mutual TLS between coordinators, workers and clients:

  ca.pem, ca-key.pem                     the CA (keep ca-key.pem private)
  coordinator.pem, coordinator-key.pem   for coordinators (tls: in their config)
  worker.pem, worker-key.pem             for workers
  client.pem, client-key.pem             for the CLI (--tls-ca/--tls-cert/--tls-key)

Keys are ECDSA P-256. Every certificate is valid for the --hosts (IP
addresses and DNS names) as a server and as a client; its subject names the
role (CN and OU). Private keys are written with mode 0600. Existing files
are kept unless --force.

These are for development and tests; in production use your own PKI.`,
		Example: `  nightshift tls --out ./certs
  nightshift tls --out ./certs --hosts 127.0.0.1,localhost,10.0.0.5,coord.internal --days 30
  nightshift workers list --tls-ca certs/ca.pem --tls-cert certs/client.pem --tls-key certs/client-key.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.days < 1 {
				return errors.New("--days must be at least 1")
			}
			files, err := rpc.WriteDevPKI(f.dir, f.hosts, time.Duration(f.days)*24*time.Hour, f.force)
			if errors.Is(err, rpc.ErrPKIExists) {
				return fmt.Errorf("%w (pass --force to overwrite)", err)
			}
			if err != nil {
				return err
			}
			if f.out == outputJSON {
				return writeJSON(cmd.OutOrStdout(), files)
			}
			rows := [][2]string{{"ca", files["ca"]}}
			for _, r := range rpc.DevRoles {
				rows = append(rows, [2]string{r, files[r] + ", " + files[r+"-key"]})
			}
			rows = append(rows, [2]string{"hosts", strings.Join(f.hosts, ",")})
			return writeKV(cmd.OutOrStdout(), rows)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dir, "out", "", "folder to write the PEM files into (created if missing)")
	fl.StringSliceVar(&f.hosts, "hosts", []string{"127.0.0.1", "localhost"}, "IP addresses and DNS names the certificates are valid for")
	fl.IntVar(&f.days, "days", 365, "validity of the certificates in days (the CA's is twice that)")
	fl.BoolVar(&f.force, "force", false, "overwrite existing files")
	addOutputFlag(cmd, &f.out)
	_ = cmd.MarkFlagRequired("out")
	return cmd
}
