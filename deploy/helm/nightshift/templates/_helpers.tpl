{{/*
Names, labels and the rules every template shares. The config files are built
as dicts and written with toYaml, so quoting is never hand-made.
*/}}

{{- define "nightshift.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The full name every resource name starts with. It is kept to 40 characters so
that "<fullname>-coordinator-headless" (21 more) stays a valid Service name.
*/}}
{{- define "nightshift.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "nightshift.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every resource. */}}
{{- define "nightshift.labels" -}}
helm.sh/chart: {{ include "nightshift.chart" . }}
app.kubernetes.io/name: {{ include "nightshift.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: nightshift
{{- end -}}

{{/* Selector labels of one component: include with (dict "root" $ "component" "coordinator"). */}}
{{- define "nightshift.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nightshift.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "nightshift.coordinator.fullname" -}}
{{- printf "%s-coordinator" (include "nightshift.fullname" .) -}}
{{- end -}}

{{- define "nightshift.coordinator.headless" -}}
{{- printf "%s-coordinator-headless" (include "nightshift.fullname" .) -}}
{{- end -}}

{{- define "nightshift.worker.serviceAccount" -}}
{{- printf "%s-worker" (include "nightshift.fullname" .) -}}
{{- end -}}

{{/* <service>.<namespace>.svc.<clusterDomain> */}}
{{- define "nightshift.coordinator.clientHost" -}}
{{- printf "%s.%s.svc.%s" (include "nightshift.coordinator.fullname" .) .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{- define "nightshift.coordinator.headlessHost" -}}
{{- printf "%s.%s.svc.%s" (include "nightshift.coordinator.headless" .) .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{- define "nightshift.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) -}}
{{- end -}}

{{- define "nightshift.gossipSecret" -}}
{{- default (printf "%s-gossip" (include "nightshift.fullname" .)) .Values.gossip.existingSecret -}}
{{- end -}}

{{/* "true" when the coordinators get an initial admin token (tokens.mode is not off). */}}
{{- define "nightshift.tokensOn" -}}
{{- if ne (include "nightshift.tokensMode" .) "off" -}}true{{- end -}}
{{- end -}}

{{/* tokens.mode as a string; a values file's unquoted off is YAML 1.1's false. */}}
{{- define "nightshift.tokensMode" -}}
{{- if and (kindIs "bool" .Values.tokens.mode) (not .Values.tokens.mode) -}}off{{- else -}}{{- toString .Values.tokens.mode -}}{{- end -}}
{{- end -}}

{{- define "nightshift.tokenSecret" -}}
{{- default (printf "%s-token" (include "nightshift.fullname" .)) .Values.tokens.existingSecret -}}
{{- end -}}

{{/*
nightshift.durationSeconds: a Go duration made of whole hours, minutes and
seconds ("5m", "1h30m", "90s") or a plain number of seconds, as an integer
number of seconds. Include with (list "what" value); fails naming "what".
*/}}
{{- define "nightshift.durationSeconds" -}}
{{- $what := index . 0 -}}
{{- $v := index . 1 -}}
{{- if or (kindIs "float64" $v) (kindIs "int" $v) (kindIs "int64" $v) -}}
{{- if or (lt (float64 $v) 0.0) (ne (float64 $v) (float64 (int64 $v))) -}}
{{- fail (printf "%s: %v is not a whole, non-negative number of seconds" $what $v) -}}
{{- end -}}
{{- int64 $v -}}
{{- else if regexMatch "^[0-9]+$" (toString $v) -}}
{{- toString $v | int64 -}}
{{- else -}}
{{- $s := toString $v -}}
{{- if or (eq $s "") (not (regexMatch "^([0-9]+h)?([0-9]+m)?([0-9]+s)?$" $s)) -}}
{{- fail (printf "%s: %q is not a duration of whole hours, minutes and seconds (e.g. 5m, 1m30s, 300s)" $what $s) -}}
{{- end -}}
{{- $h := regexFind "[0-9]+h" $s | trimSuffix "h" | default "0" | int64 -}}
{{- $m := regexFind "[0-9]+m" $s | trimSuffix "m" | default "0" | int64 -}}
{{- $sec := regexFind "[0-9]+s" $s | trimSuffix "s" | default "0" | int64 -}}
{{- add (mul $h 3600) (mul $m 60) $sec -}}
{{- end -}}
{{- end -}}

{{/*
The PodDisruptionBudget's maxUnavailable that keeps a Raft quorum: 0 for one
voter, else (replicas-1)/2 (1 of 3, 2 of 5).
*/}}
{{- define "nightshift.coordinator.maxUnavailable" -}}
{{- $n := int .Values.coordinator.replicas -}}
{{- if le $n 1 -}}0{{- else -}}{{- div (sub $n 1) 2 -}}{{- end -}}
{{- end -}}

{{/*
nightshift.validate fails rendering on values that would make a broken cluster.
Every template that depends on them includes it (failing once is enough).
*/}}
{{- define "nightshift.validate" -}}
{{- $r := .Values.coordinator.replicas -}}
{{- if not (or (kindIs "float64" $r) (kindIs "int" $r) (kindIs "int64" $r)) -}}
{{- fail (printf "coordinator.replicas must be a number, got %v" $r) -}}
{{- end -}}
{{- if or (lt (float64 $r) 1.0) (ne (float64 $r) (float64 (int $r))) (eq (mod (int $r) 2) 0) -}}
{{- fail (printf "coordinator.replicas must be odd and at least 1 (1, 3, 5, ...), got %v: Raft needs a majority of the voters, and an even count tolerates no more failures than the odd count below it" $r) -}}
{{- end -}}
{{- if and .Values.tls.enabled (not .Values.tls.existingSecret) -}}
{{- fail "tls.enabled needs tls.existingSecret: a Secret with tls.crt, tls.key and ca.crt" -}}
{{- end -}}
{{- if and .Values.coordinator.httpTLS (not .Values.tls.enabled) -}}
{{- fail "coordinator.httpTLS needs tls.enabled (it serves HTTP with the node's certificate)" -}}
{{- end -}}
{{- if not (has (include "nightshift.tokensMode" .) (list "auto" "required" "off")) -}}
{{- fail (printf "tokens.mode must be auto, required or off, got %q" (include "nightshift.tokensMode" .)) -}}
{{- end -}}
{{- $names := dict -}}
{{- range $i, $p := .Values.pools -}}
{{- $name := toString (default "" $p.name) -}}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" $name) -}}
{{- fail (printf "pools[%d].name must be a DNS label (lowercase letters, digits and '-'), got %q" $i $name) -}}
{{- end -}}
{{- if gt (len (printf "%s-worker-%s" (include "nightshift.fullname" $) $name)) 63 -}}
{{- fail (printf "pools[%d].name %q is too long: %s-worker-%s must fit in 63 characters" $i $name (include "nightshift.fullname" $) $name) -}}
{{- end -}}
{{- if hasKey $names $name -}}
{{- fail (printf "pools: the name %q is used twice" $name) -}}
{{- end -}}
{{- $_ := set $names $name true -}}
{{- $pool := include "nightshift.pool" (dict "root" $ "pool" $p) | fromYaml -}}
{{- $drain := include "nightshift.durationSeconds" (list (printf "pools[%s].drainGrace" $name) $pool.drainGrace) | int64 -}}
{{- if not (kindIs "invalid" $p.terminationGracePeriodSeconds) -}}
{{- if le (int64 $p.terminationGracePeriodSeconds) $drain -}}
{{- fail (printf "pools[%s].terminationGracePeriodSeconds (%v) must be greater than its drainGrace (%s = %ds): the preStop drain would be killed before running tasks finish or are handed back; leave it unset to get drainGrace + 30s" $name $p.terminationGracePeriodSeconds (toString $pool.drainGrace) $drain) -}}
{{- end -}}
{{- end -}}
{{- $as := $pool.autoscaling -}}
{{- if $as.enabled -}}
{{- if not (has $as.kind (list "keda" "hpa")) -}}
{{- fail (printf "pools[%s].autoscaling.kind must be keda or hpa, got %q" $name (toString $as.kind)) -}}
{{- end -}}
{{- if lt (int $as.maxReplicas) (int $as.minReplicas) -}}
{{- fail (printf "pools[%s].autoscaling: maxReplicas (%v) is below minReplicas (%v)" $name $as.maxReplicas $as.minReplicas) -}}
{{- end -}}
{{- if lt (int $as.maxReplicas) 1 -}}
{{- fail (printf "pools[%s].autoscaling.maxReplicas must be at least 1" $name) -}}
{{- end -}}
{{- if and (eq $as.kind "hpa") (lt (int $as.minReplicas) 1) -}}
{{- fail (printf "pools[%s].autoscaling: an HPA needs minReplicas of at least 1 (use kind: keda to scale to zero)" $name) -}}
{{- end -}}
{{- if and (eq $as.kind "keda") (not $.Values.autoscaling.prometheus.serverAddress) -}}
{{- fail (printf "pools[%s].autoscaling.kind keda needs autoscaling.prometheus.serverAddress (the Prometheus that scrapes the coordinators)" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
nightshift.pool: one pool with the worker and autoscaling defaults filled in,
as YAML (read it back with fromYaml). Include with (dict "root" $ "pool" $p).
*/}}
{{- define "nightshift.pool" -}}
{{- $root := .root -}}
{{- $w := $root.Values.worker -}}
{{- $p := deepCopy .pool -}}
{{- $out := dict "name" (toString $p.name) -}}
{{- $_ := set $out "replicas" (ternary $p.replicas 1 (hasKey $p "replicas")) -}}
{{- $_ := set $out "slots" (ternary $p.slots 2 (hasKey $p "slots")) -}}
{{- $_ := set $out "labels" (default dict $p.labels) -}}
{{- range $k := list "resources" "nodeSelector" "tolerations" "affinity" "priorityClassName" "drainGrace" -}}
{{- $_ := set $out $k (ternary (index $p $k) (index $w $k) (and (hasKey $p $k) (not (empty (index $p $k))))) -}}
{{- end -}}
{{- $_ := set $out "podAnnotations" (merge (default dict $p.podAnnotations) $w.podAnnotations) -}}
{{- $_ := set $out "podLabels" (merge (default dict $p.podLabels) $w.podLabels) -}}
{{- $_ := set $out "env" (concat (default list $w.env) (default list $p.env)) -}}
{{- $_ := set $out "memoryBytes" (default "" $p.memoryBytes) -}}
{{- $_ := set $out "extraConfig" (mergeOverwrite (deepCopy (default dict $w.extraConfig)) (default dict $p.extraConfig)) -}}
{{- /* Not sprig's merge: it would take a default over a pool's 0 or false. */ -}}
{{- $as := deepCopy (default dict $p.autoscaling) -}}
{{- range $k, $v := merge (dict "enabled" false) $root.Values.autoscaling.defaults -}}
{{- if not (hasKey $as $k) -}}
{{- $_ := set $as $k $v -}}
{{- end -}}
{{- end -}}
{{- $_ := set $out "autoscaling" $as -}}
{{- toYaml $out -}}
{{- end -}}

{{/* Environment of every nightshift container: the downward API values the config files expand. */}}
{{- define "nightshift.podEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: TMPDIR
  value: /tmp
{{- end -}}

{{/* envFrom of every nightshift container: the S3 credentials. */}}
{{- define "nightshift.envFrom" -}}
{{- if .Values.storage.credentialsSecret }}
envFrom:
  - secretRef:
      name: {{ .Values.storage.credentialsSecret }}
{{- end }}
{{- end -}}

{{/*
The parts of coordinator.yaml and worker.yaml both share: tls or insecure,
gossip key, storage. Returns YAML; include with (dict "root" $ "tlsSecret" NAME).
*/}}
{{- define "nightshift.commonConfig" -}}
{{- $root := .root -}}
{{- $c := dict -}}
{{- if $root.Values.tls.enabled -}}
{{- $tls := dict "ca_file" "/etc/nightshift/tls/ca.crt" "cert_file" "/etc/nightshift/tls/tls.crt" "key_file" "/etc/nightshift/tls/tls.key" -}}
{{- if $root.Values.tls.serverName -}}
{{- $_ := set $tls "server_name" $root.Values.tls.serverName -}}
{{- end -}}
{{- $_ := set $c "tls" $tls -}}
{{- else -}}
{{- $_ := set $c "insecure" true -}}
{{- end -}}
{{- if $root.Values.gossip.enabled -}}
{{- $_ := set $c "gossip_key_file" "/etc/nightshift/gossip/key" -}}
{{- end -}}
{{- $s := dict -}}
{{- with $root.Values.storage -}}
{{- if .s3Endpoint -}}{{- $_ := set $s "s3_endpoint" .s3Endpoint -}}{{- end -}}
{{- if .s3Region -}}{{- $_ := set $s "s3_region" .s3Region -}}{{- end -}}
{{- if .s3Endpoint -}}{{- $_ := set $s "s3_tls" .s3TLS -}}{{- end -}}
{{- if .fileRoot -}}{{- $_ := set $s "file_root" .fileRoot -}}{{- end -}}
{{- end -}}
{{- if $s -}}
{{- $_ := set $c "storage" $s -}}
{{- end -}}
{{- toYaml $c -}}
{{- end -}}

{{/*
Volumes of the Secrets both components mount: TLS and the gossip key.
Include with (dict "root" $ "tlsSecret" NAME).
*/}}
{{- define "nightshift.secretVolumes" -}}
{{- if .root.Values.tls.enabled }}
- name: tls
  secret:
    secretName: {{ .tlsSecret }}
    defaultMode: 0440
    items:
      - key: ca.crt
        path: ca.crt
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
{{- end }}
{{- if .root.Values.gossip.enabled }}
- name: gossip
  secret:
    secretName: {{ include "nightshift.gossipSecret" .root }}
    defaultMode: 0440
    items:
      - key: key
        path: key
{{- end }}
{{- end -}}

{{- define "nightshift.secretMounts" -}}
{{- if .Values.tls.enabled }}
- name: tls
  mountPath: /etc/nightshift/tls
  readOnly: true
{{- end }}
{{- if .Values.gossip.enabled }}
- name: gossip
  mountPath: /etc/nightshift/gossip
  readOnly: true
{{- end }}
{{- end -}}

{{/* coordinator.yaml */}}
{{- define "nightshift.coordinatorConfig" -}}
{{- $headless := include "nightshift.coordinator.headless" . -}}
{{- $peerHost := printf "${POD_NAME}.%s.${POD_NAMESPACE}.svc.%s" $headless .Values.clusterDomain -}}
{{- $c := .Values.coordinator -}}
{{- $cfg := dict
  "id" "${POD_NAME}"
  "data_dir" "/data"
  "bootstrap_expect" (int $c.replicas)
  "seeds" (list (printf "%s:7102" (include "nightshift.coordinator.headlessHost" .)))
  "grpc_addr" "0.0.0.0:7100"
  "grpc_advertise" (printf "%s:7100" $peerHost)
  "raft_addr" "0.0.0.0:7101"
  "raft_advertise" (printf "%s:7101" $peerHost)
  "gossip_addr" "0.0.0.0:7102"
  "gossip_advertise" "${POD_IP}:7102"
  "http_addr" "0.0.0.0:7103"
  "http_tls" (default false $c.httpTLS)
  "tokens" (include "nightshift.tokensMode" .)
  "autopilot" (deepCopy $c.autopilot)
  "lease_ttl" (toString $c.leaseTTL)
  "heartbeat_interval" (toString $c.heartbeatInterval)
  "log" (deepCopy $c.log)
-}}
{{- if include "nightshift.tokensOn" . -}}
{{- $_ := set $cfg "initial_token_file" "/etc/nightshift/token/token" -}}
{{- end -}}
{{- $cfg = mergeOverwrite $cfg (include "nightshift.commonConfig" (dict "root" .) | fromYaml) -}}
{{- $pools := dict -}}
{{- range $p := .Values.pools -}}
{{- $pool := include "nightshift.pool" (dict "root" $ "pool" $p) | fromYaml -}}
{{- if $pool.autoscaling.enabled -}}
{{- $_ := set $pools $pool.name (dict
  "min_workers" (int $pool.autoscaling.minReplicas)
  "max_workers" (int $pool.autoscaling.maxReplicas)
  "slots_per_worker" (int $pool.slots)
  "target_tasks_per_slot" $pool.autoscaling.targetTasksPerSlot) -}}
{{- end -}}
{{- end -}}
{{- if $pools -}}
{{- $_ := set $cfg "autoscale" (dict "pools" $pools) -}}
{{- end -}}
{{- $cfg = mergeOverwrite $cfg (deepCopy (default dict $c.extraConfig)) -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* worker.yaml of one pool; include with (dict "root" $ "pool" $pool), $pool from nightshift.pool. */}}
{{- define "nightshift.workerConfig" -}}
{{- $root := .root -}}
{{- $pool := .pool -}}
{{- $drain := include "nightshift.durationSeconds" (list (printf "pools[%s].drainGrace" $pool.name) $pool.drainGrace) | int64 -}}
{{- $cfg := dict
  "id" "${POD_NAME}"
  "pool" $pool.name
  "slots" (int $pool.slots)
  "labels" (deepCopy (default dict $pool.labels))
  "coordinators" (list (printf "%s:7100" (include "nightshift.coordinator.clientHost" $root)))
  "seeds" (list (printf "%s:7102" (include "nightshift.coordinator.headlessHost" $root)))
  "grpc_addr" "0.0.0.0:7200"
  "grpc_advertise" "${POD_IP}:7200"
  "gossip_addr" "0.0.0.0:7202"
  "gossip_advertise" "${POD_IP}:7202"
  "http_addr" "0.0.0.0:7203"
  "drain_grace" (printf "%ds" $drain)
  "pod_deletion_cost" (default false $root.Values.worker.podDeletionCost)
  "log" (deepCopy $root.Values.worker.log)
-}}
{{- if $pool.memoryBytes -}}
{{- $_ := set $cfg "memory_bytes" (toString $pool.memoryBytes) -}}
{{- end -}}
{{- $cfg = mergeOverwrite $cfg (include "nightshift.commonConfig" (dict "root" $root) | fromYaml) -}}
{{- $cfg = mergeOverwrite $cfg (deepCopy (default dict $pool.extraConfig)) -}}
{{- toYaml $cfg -}}
{{- end -}}
