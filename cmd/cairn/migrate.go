//go:build !cairncli

package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/config"
	"github.com/cairn-dev/cairn/storage/kafka"
	"github.com/cairn-dev/cairn/storage/postgres"
	"github.com/cairn-dev/cairn/web"
)

func newMigrateCommand() *cobra.Command {
	cfg, cfgErr := config.Load()
	var configPath string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Bring every configured store's schema up to date, then exit",
		Long: `Apply the schema migrations of every configured backend and create what the
roles expect to find, then exit. Run it once before starting a new version of
the production roles; running it again changes nothing.

With storage.postgres in the configuration it migrates PostgreSQL (metadata,
issues, event bodies, the queue), ClickHouse (storage.clickhouse), creates the
Kafka topics (storage.kafka) and the S3 bucket (storage.s3) when missing.
Without it, it migrates the embedded SQLite databases of --data-dir.
Either way it makes sure the default organization, project and DSN key exist
and prints the DSN: doing it here, in one process, keeps roles that start
together from racing to create them.

The roles apply pending migrations themselves when they start (under a lock,
so concurrent starts are safe); migrate makes the step explicit and its
failures visible before any role takes traffic.`,
		Example: `  cairn migrate --config /etc/cairn/cairn.yaml
  CAIRN_CONFIG=/etc/cairn/cairn.yaml cairn migrate
  cairn migrate --data-dir ./cairn-data`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath != "" {
				cfgErr = configFile(cmd, &cfg, configPath, []string{"data-dir"})
			}
			if cfgErr != nil {
				return cfgErr
			}
			// Migrating is role-independent; only the storage settings count.
			cfg.Role = config.RoleAll
			if err := cfg.Validate(); err != nil {
				return err
			}
			return migrate(cmd.Context(), cfg, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "YAML configuration file (see deploy/cairn.yaml) ($CAIRN_CONFIG)")
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "data directory of the embedded stores ($CAIRN_DATA_DIR)")
	return cmd
}

// migrate applies every configured store's migrations and makes the
// default organization, project and key.
func migrate(ctx context.Context, cfg config.Config, out io.Writer) error {
	base := cfg.PublicURL
	if base == "" {
		base = "http://" + cfg.Addr
	}
	if !cfg.Production() {
		st, err := openStores(ctx, cfg)
		if err != nil {
			return err
		}
		defer st.close()
		fmt.Fprintf(out, "sqlite: %s, %s, %s: schema up to date\n", cfg.MetaPath(), cfg.EventsPath(), cfg.QueuePath())
		_, proj, key, err := web.EnsureDefaults(ctx, st.meta)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "default project: DSN %s\n", web.DSN(base, key.Public, proj.ID))
		return nil
	}
	st := cfg.Storage
	// The three stores share one set of migrations; opening the metadata
	// store applies them all.
	m, err := postgres.OpenMeta(ctx, st.Postgres, postgres.Options{})
	if err != nil {
		return err
	}
	defer m.Close()
	fmt.Fprintln(out, "postgres: schema up to date")
	if st.ClickHouse != "" {
		a, err := openClickHouse(ctx, st.ClickHouse)
		if err != nil {
			return err
		}
		a.Close()
		fmt.Fprintln(out, "clickhouse: schema up to date")
	}
	if len(st.Kafka) > 0 {
		for _, topic := range []string{kafka.TopicIngested, kafka.TopicProcessed} {
			p, err := openKafkaProducer(ctx, st.Kafka, topic)
			if err != nil {
				return err
			}
			p.Close()
			fmt.Fprintf(out, "kafka: topics %s and %s.dead exist\n", topic, topic)
		}
	}
	if st.S3.Bucket != "" {
		if _, err := openBlobs(ctx, cfg, true); err != nil {
			return err
		}
		fmt.Fprintf(out, "s3: bucket %s exists\n", st.S3.Bucket)
	}
	_, proj, key, err := web.EnsureDefaults(ctx, m)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "default project: DSN %s\n", web.DSN(base, key.Public, proj.ID))
	return nil
}
