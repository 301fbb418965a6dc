{{/* Object name: the model alias (already a DNS-1035 label, validated by Paddock's stack config). */}}
{{- define "ms.name" -}}
{{- .Values.alias | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{- define "ms.selectorLabels" -}}
app.kubernetes.io/name: model-server
app.kubernetes.io/instance: {{ include "ms.name" . }}
{{- end -}}

{{- define "ms.labels" -}}
{{ include "ms.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: paddock
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
paddock.dev/engine: {{ .Values.engine }}
{{- end -}}

{{/* Inline checkov skips shared by every engine pod (each with its reason). */}}
{{- define "ms.checkovSkips" -}}
checkov.io/skip1: CKV_K8S_43=Images are pinned by tag in the stack config (paddock:versions); a digest may be used there and is passed through unchanged.
checkov.io/skip2: CKV_K8S_15=Pinned tags are pulled IfNotPresent (serving/images.py) because Always re-pulls on every pod start and hits the Docker Hub anonymous pull limit behind one NAT IP.
{{- end -}}

{{/* Where the engine reads weights from. */}}
{{- define "ms.modelPath" -}}
{{- if eq .Values.weights.source "s3" -}}
{{ .Values.cache.mountPath }}/weights
{{- else -}}
{{ .Values.weights.hfRepo }}
{{- end -}}
{{- end -}}

{{/* Engine arguments (list, YAML). */}}
{{- define "ms.engineArgs" -}}
{{- if eq .Values.engine "vllm" }}
- {{ include "ms.modelPath" . | quote }}
- "--served-model-name"
- {{ .Values.servedModelName | quote }}
- "--host"
- "0.0.0.0"
- "--port"
- {{ .Values.port | quote }}
{{- if gt (int .Values.nodesPerReplica) 1 }}
- "--distributed-executor-backend"
- "ray"
{{- end }}
{{- else }}
- "--model-id"
- {{ include "ms.modelPath" . | quote }}
- "--hostname"
- "0.0.0.0"
- "--port"
- {{ .Values.port | quote }}
{{- end }}
{{- range .Values.engineArgs }}
- {{ . | quote }}
{{- end }}
{{- end -}}

{{/* Readiness: engine health AND the served model is listed (vLLM /v1/models; TGI /info model_id). */}}
{{- define "ms.readinessScript" -}}
{{- if eq .Values.engine "vllm" -}}
import json,sys,urllib.request as u
b='http://127.0.0.1:{{ .Values.port }}'
u.urlopen(b+'/health',timeout=3)
d=json.load(u.urlopen(b+'/v1/models',timeout=3))
sys.exit(0 if any(m.get('id')=={{ .Values.servedModelName | quote }} for m in d.get('data',[])) else 1)
{{- else -}}
import json,sys,urllib.request as u
b='http://127.0.0.1:{{ .Values.port }}'
u.urlopen(b+'/health',timeout=3)
d=json.load(u.urlopen(b+'/info',timeout=3))
sys.exit(0 if d.get('model_id')=={{ include "ms.modelPath" . | quote }} else 1)
{{- end -}}
{{- end -}}

{{- define "ms.securityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop: ["ALL"]
{{- end -}}

{{- define "ms.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Identity for the non-root uid (USER/LOGNAME: torch's getpass.getuser() raises for a uid without a
passwd entry otherwise) and a writable HOME (/tmp emptyDir); shared by engine, worker and init containers. */}}
{{- define "ms.identityEnv" -}}
- name: HOME
  value: /tmp
- name: USER
  value: {{ .Values.user | quote }}
- name: LOGNAME
  value: {{ .Values.user | quote }}
{{- end -}}

{{/* Engine env: identity, then every cache on the model-cache volume (the root filesystem is read-only). */}}
{{- define "ms.env" -}}
{{ include "ms.identityEnv" . }}
- name: XDG_CACHE_HOME
  value: {{ printf "%s/cache" .Values.cache.mountPath | quote }}
- name: TORCHINDUCTOR_CACHE_DIR
  value: {{ printf "%s/cache/torchinductor" .Values.cache.mountPath | quote }}
- name: TRITON_CACHE_DIR
  value: {{ printf "%s/cache/triton" .Values.cache.mountPath | quote }}
{{- if eq .Values.engine "vllm" }}
- name: VLLM_CACHE_ROOT
  value: {{ printf "%s/cache/vllm" .Values.cache.mountPath | quote }}
- name: VLLM_CONFIG_ROOT
  value: /tmp/.config/vllm
{{- end }}
- name: HF_HOME
  value: {{ printf "%s/hf" .Values.cache.mountPath | quote }}
{{- if eq .Values.weights.source "hf" }}
- name: HF_TOKEN_PATH
  value: /var/run/secrets/hf/token
{{- else }}
- name: HF_HUB_OFFLINE
  value: "1"
{{- end }}
{{- end -}}

{{- define "ms.volumeMounts" -}}
- name: shm
  mountPath: /dev/shm
- name: tmp
  mountPath: /tmp
- name: models
  mountPath: {{ .Values.cache.mountPath }}
{{- if eq .Values.weights.source "hf" }}
- name: hf-token
  mountPath: /var/run/secrets/hf
  readOnly: true
{{- end }}
{{- end -}}

{{- define "ms.volumes" -}}
- name: shm
  emptyDir:
    medium: Memory
    sizeLimit: {{ printf "%vGi" .Values.shmSizeGi }}
- name: tmp
  emptyDir:
    sizeLimit: 8Gi
- name: models
  emptyDir:
    sizeLimit: {{ printf "%vGi" .Values.cache.sizeGi }}
{{- if eq .Values.weights.source "hf" }}
- name: hf-token
  secret:
    secretName: {{ .Values.weights.hfTokenSecret }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{/* ephemeral-storage covers the pod's emptyDirs (cache + /tmp) and logs: the scheduler places the pod only on a
node whose disk holds it, and kubelet evicts rather than filling the node's disk. */}}
{{- define "ms.resources" -}}
{{- if lt (int .Values.cache.ephemeralStorageGi) (add (int .Values.cache.sizeGi) 8) }}
{{- fail "cache.ephemeralStorageGi must cover cache.sizeGi + the 8Gi /tmp emptyDir" }}
{{- end -}}
requests:
  cpu: {{ .Values.resources.cpu | quote }}
  memory: {{ .Values.resources.memory | quote }}
  nvidia.com/gpu: {{ .Values.gpus | quote }}
  ephemeral-storage: {{ printf "%vGi" .Values.cache.ephemeralStorageGi | quote }}
limits:
  cpu: {{ .Values.resources.cpu | quote }}
  memory: {{ .Values.resources.memory | quote }}
  nvidia.com/gpu: {{ .Values.gpus | quote }}
  ephemeral-storage: {{ printf "%vGi" .Values.cache.ephemeralStorageGi | quote }}
{{- end -}}

{{/* S3 weights: sync the prefix into the cache with the pod's IAM role (EKS Pod Identity). */}}
{{- define "ms.initContainers" -}}
{{- if eq .Values.weights.source "s3" }}
initContainers:
  - name: fetch-weights
    image: {{ .Values.weights.syncImage | quote }}
    imagePullPolicy: Always
    # the CRT transfer client (AWS CLI v2 s3 config preferred_transfer_client) downloads with many parallel
    # connections sized to the instance; the classic client stops at 10 concurrent requests
    command:
      - /bin/sh
      - -c
      - aws configure set default.s3.preferred_transfer_client crt && exec aws s3 sync "$1" "$2" --no-progress --region "$3"
      - sync-weights
      - {{ .Values.weights.s3Uri | quote }}
      - {{ printf "%s/weights" .Values.cache.mountPath | quote }}
      - {{ .Values.weights.region | quote }}
    env:
      {{- include "ms.identityEnv" . | nindent 6 }}
    resources:
      requests: {cpu: "2", memory: 2Gi}
      limits: {cpu: "2", memory: 2Gi}
    securityContext:
      {{- include "ms.securityContext" . | nindent 6 }}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
      - name: models
        mountPath: {{ .Values.cache.mountPath }}
{{- end }}
{{- end -}}

{{- define "ms.engineContainer" -}}
name: engine
image: {{ printf "%s:%s" .Values.image.repository .Values.image.tag | quote }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
{{- if eq .Values.engine "vllm" }}
{{- if gt (int .Values.nodesPerReplica) 1 }}
command: ["/bin/sh", "-c", "ray start --head --port=6379 && exec vllm serve \"$@\"", "--"]
{{- else }}
command: ["vllm", "serve"]
{{- end }}
{{- else }}
command: ["text-generation-launcher"]
{{- end }}
args:
  {{- include "ms.engineArgs" . | nindent 2 }}
ports:
  - name: http
    containerPort: {{ .Values.port }}
    protocol: TCP
env:
  {{- include "ms.env" . | nindent 2 }}
resources:
  {{- include "ms.resources" . | nindent 2 }}
securityContext:
  {{- include "ms.securityContext" . | nindent 2 }}
volumeMounts:
  {{- include "ms.volumeMounts" . | nindent 2 }}
startupProbe:
  httpGet:
    path: /health
    port: http
  periodSeconds: {{ .Values.probes.startup.periodSeconds }}
  failureThreshold: {{ .Values.probes.startup.failureThreshold }}
  timeoutSeconds: 5
readinessProbe:
  exec:
    command:
      - python3
      - -c
      - {{ include "ms.readinessScript" . | quote }}
  periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
  timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
  failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
livenessProbe:
  httpGet:
    path: /health
    port: http
  periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
  timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
  failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
{{- end -}}

{{- define "ms.podSpecCommon" -}}
serviceAccountName: {{ .Values.serviceAccount.name }}
automountServiceAccountToken: false
securityContext:
  {{- include "ms.podSecurityContext" . | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
terminationGracePeriodSeconds: 60
volumes:
  {{- include "ms.volumes" . | nindent 2 }}
{{- end -}}
