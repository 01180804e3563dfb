// The Go struct definitions the pod-template hash walks, generated from the sources of
// Kubernetes 1.36 (k8s.io/api v0.36.3 core/v1/types.go, k8s.io/apimachinery v0.36.3
// pkg/apis/meta/v1/types.go and time.go): every struct reachable from v1.PodTemplateSpec, every
// field in declaration order, because spew prints zero-valued fields too. Regenerate (do not
// hand-edit field lists) when the hash must follow a newer Kubernetes: a field added to any struct
// that is printed (even when nil) changes every hash.
//
// Table syntax: `Type: field; field; ...`, a line starting with more indentation continues the
// previous one. A field is `jsonKey GoType` when the Go name is the JSON key with its first letter
// upper-cased, `GoName=jsonKey GoType` otherwise, and `~ GoType` for an embedded struct whose JSON
// is inlined into the enclosing object (its Go field name is the type's name). Go types are
// spelled as reflect's Type.String() spells them, which is what spew prints: core/v1 and meta/v1
// are both package `v1`.

extension PodTemplateHash {
    /// A Go struct field: the name spew prints, its JSON key (nil: embedded and inlined, so it
    /// reads the enclosing object), and its Go type.
    struct Field: Sendable {
        let name: String
        let json: String?
        let type: String
    }

    static let structs: [String: [Field]] = {
        var result: [String: [Field]] = [:]
        var name = ""
        var body = ""
        func flush() {
            guard !name.isEmpty else { return }
            result[name] = body.split(separator: ";").compactMap { entry in
                let parts = entry.split(separator: " ")
                guard parts.count == 2 else { return nil }
                let head = String(parts[0]), type = String(parts[1])
                if head == "~" {
                    let base = type.split(separator: ".").last.map(String.init) ?? type
                    return Field(name: base, json: nil, type: type)
                }
                if let eq = head.firstIndex(of: "=") {
                    return Field(name: String(head[..<eq]), json: String(head[head.index(after: eq)...]), type: type)
                }
                return Field(name: head.prefix(1).uppercased() + String(head.dropFirst()), json: head, type: type)
            }
        }
        for line in table.split(separator: "\n") {
            if line.first == " " {
                body += " " + String(line)
            } else if let colon = line.firstIndex(of: ":") {
                flush()
                name = String(line[..<colon])
                body = String(line[line.index(after: colon)...])
            }
        }
        flush()
        return result
    }()

    /// Named Go types whose kind is `string` (spew prints the name, then the bare value).
    static let namedStrings: Set<String> = [
        "v1.AppArmorProfileType", "v1.AzureDataDiskCachingMode", "v1.AzureDataDiskKind", "v1.Capability",
        "v1.ContainerRestartPolicy", "v1.ContainerRestartRuleAction", "v1.ContainerRestartRuleOnExitCodesOperator",
        "v1.DNSPolicy", "v1.HostPathType", "v1.LabelSelectorOperator", "v1.ManagedFieldsOperationType",
        "v1.MountPropagationMode", "v1.NodeInclusionPolicy", "v1.NodeSelectorOperator", "v1.OSName",
        "v1.PersistentVolumeAccessMode", "v1.PersistentVolumeMode", "v1.PodConditionType",
        "v1.PodFSGroupChangePolicy", "v1.PodSELinuxChangePolicy", "v1.PreemptionPolicy", "v1.ProcMountType",
        "v1.Protocol", "v1.PullPolicy", "v1.RecursiveReadOnlyMode", "v1.ResourceName",
        "v1.ResourceResizeRestartPolicy", "v1.RestartPolicy", "v1.SeccompProfileType", "v1.Signal",
        "v1.StorageMedium", "v1.SupplementalGroupsPolicy", "v1.TaintEffect", "v1.TerminationMessagePolicy",
        "v1.TolerationOperator", "v1.URIScheme", "v1.UnsatisfiableConstraintAction", "types.UID",
    ]
    static let namedOther: [String: String] = [
        "v1.ResourceList": "map[v1.ResourceName]resource.Quantity",
        "intstr.Type": "int64",
        "resource.Scale": "int32",
        "resource.Format": "string",
    ]

    /// v1.Time embeds time.Time; FieldsV1 holds raw JSON bytes (only in managedFields, which a
    /// template never has: printed as nil). The rest is generated.
    static let table = """
    v1.Time: ~ time.Time
    v1.FieldsV1: Raw=- []uint8
    v1.PodTemplateSpec: ObjectMeta=metadata v1.ObjectMeta; spec v1.PodSpec
    v1.ObjectMeta: name string; generateName string; namespace string; selfLink string; UID=uid types.UID;
        resourceVersion string; generation int64; creationTimestamp v1.Time; deletionTimestamp *v1.Time;
        deletionGracePeriodSeconds *int64; labels map[string]string; annotations map[string]string;
        ownerReferences []v1.OwnerReference; finalizers []string; managedFields []v1.ManagedFieldsEntry
    v1.OwnerReference: APIVersion=apiVersion string; kind string; name string; UID=uid types.UID; controller *bool;
        blockOwnerDeletion *bool
    v1.ManagedFieldsEntry: manager string; operation v1.ManagedFieldsOperationType; APIVersion=apiVersion string;
        time *v1.Time; fieldsType string; fieldsV1 *v1.FieldsV1; subresource string
    v1.PodSpec: volumes []v1.Volume; initContainers []v1.Container; containers []v1.Container;
        ephemeralContainers []v1.EphemeralContainer; restartPolicy v1.RestartPolicy;
        terminationGracePeriodSeconds *int64; activeDeadlineSeconds *int64; DNSPolicy=dnsPolicy v1.DNSPolicy;
        nodeSelector map[string]string; serviceAccountName string; DeprecatedServiceAccount=serviceAccount string;
        automountServiceAccountToken *bool; nodeName string; hostNetwork bool; hostPID bool; hostIPC bool;
        shareProcessNamespace *bool; securityContext *v1.PodSecurityContext;
        imagePullSecrets []v1.LocalObjectReference; hostname string; subdomain string; affinity *v1.Affinity;
        schedulerName string; tolerations []v1.Toleration; hostAliases []v1.HostAlias; priorityClassName string;
        priority *int32; DNSConfig=dnsConfig *v1.PodDNSConfig; readinessGates []v1.PodReadinessGate;
        runtimeClassName *string; enableServiceLinks *bool; preemptionPolicy *v1.PreemptionPolicy;
        overhead v1.ResourceList; topologySpreadConstraints []v1.TopologySpreadConstraint; setHostnameAsFQDN *bool;
        OS=os *v1.PodOS; hostUsers *bool; schedulingGates []v1.PodSchedulingGate;
        resourceClaims []v1.PodResourceClaim; resources *v1.ResourceRequirements; hostnameOverride *string;
        schedulingGroup *v1.PodSchedulingGroup
    v1.Volume: name string; ~ v1.VolumeSource
    v1.VolumeSource: hostPath *v1.HostPathVolumeSource; emptyDir *v1.EmptyDirVolumeSource;
        GCEPersistentDisk=gcePersistentDisk *v1.GCEPersistentDiskVolumeSource;
        AWSElasticBlockStore=awsElasticBlockStore *v1.AWSElasticBlockStoreVolumeSource;
        gitRepo *v1.GitRepoVolumeSource; secret *v1.SecretVolumeSource; NFS=nfs *v1.NFSVolumeSource;
        ISCSI=iscsi *v1.ISCSIVolumeSource; glusterfs *v1.GlusterfsVolumeSource;
        persistentVolumeClaim *v1.PersistentVolumeClaimVolumeSource; RBD=rbd *v1.RBDVolumeSource;
        flexVolume *v1.FlexVolumeSource; cinder *v1.CinderVolumeSource; CephFS=cephfs *v1.CephFSVolumeSource;
        flocker *v1.FlockerVolumeSource; downwardAPI *v1.DownwardAPIVolumeSource; FC=fc *v1.FCVolumeSource;
        azureFile *v1.AzureFileVolumeSource; configMap *v1.ConfigMapVolumeSource;
        vsphereVolume *v1.VsphereVirtualDiskVolumeSource; quobyte *v1.QuobyteVolumeSource;
        azureDisk *v1.AzureDiskVolumeSource; photonPersistentDisk *v1.PhotonPersistentDiskVolumeSource;
        projected *v1.ProjectedVolumeSource; portworxVolume *v1.PortworxVolumeSource; scaleIO *v1.ScaleIOVolumeSource;
        StorageOS=storageos *v1.StorageOSVolumeSource; CSI=csi *v1.CSIVolumeSource;
        ephemeral *v1.EphemeralVolumeSource; image *v1.ImageVolumeSource
    v1.HostPathVolumeSource: path string; type *v1.HostPathType
    v1.EmptyDirVolumeSource: medium v1.StorageMedium; sizeLimit *resource.Quantity
    v1.GCEPersistentDiskVolumeSource: PDName=pdName string; FSType=fsType string; partition int32; readOnly bool
    v1.AWSElasticBlockStoreVolumeSource: volumeID string; FSType=fsType string; partition int32; readOnly bool
    v1.GitRepoVolumeSource: repository string; revision string; directory string
    v1.SecretVolumeSource: secretName string; items []v1.KeyToPath; defaultMode *int32; optional *bool
    v1.KeyToPath: key string; path string; mode *int32
    v1.NFSVolumeSource: server string; path string; readOnly bool
    v1.ISCSIVolumeSource: targetPortal string; IQN=iqn string; lun int32; ISCSIInterface=iscsiInterface string;
        FSType=fsType string; readOnly bool; portals []string; DiscoveryCHAPAuth=chapAuthDiscovery bool;
        SessionCHAPAuth=chapAuthSession bool; secretRef *v1.LocalObjectReference; initiatorName *string
    v1.LocalObjectReference: name string
    v1.GlusterfsVolumeSource: EndpointsName=endpoints string; path string; readOnly bool
    v1.PersistentVolumeClaimVolumeSource: claimName string; readOnly bool
    v1.RBDVolumeSource: CephMonitors=monitors []string; RBDImage=image string; FSType=fsType string;
        RBDPool=pool string; RadosUser=user string; keyring string; secretRef *v1.LocalObjectReference; readOnly bool
    v1.FlexVolumeSource: driver string; FSType=fsType string; secretRef *v1.LocalObjectReference; readOnly bool;
        options map[string]string
    v1.CinderVolumeSource: volumeID string; FSType=fsType string; readOnly bool; secretRef *v1.LocalObjectReference
    v1.CephFSVolumeSource: monitors []string; path string; user string; secretFile string;
        secretRef *v1.LocalObjectReference; readOnly bool
    v1.FlockerVolumeSource: datasetName string; datasetUUID string
    v1.DownwardAPIVolumeSource: items []v1.DownwardAPIVolumeFile; defaultMode *int32
    v1.DownwardAPIVolumeFile: path string; fieldRef *v1.ObjectFieldSelector;
        resourceFieldRef *v1.ResourceFieldSelector; mode *int32
    v1.ObjectFieldSelector: APIVersion=apiVersion string; fieldPath string
    v1.ResourceFieldSelector: containerName string; resource string; divisor resource.Quantity
    v1.FCVolumeSource: targetWWNs []string; lun *int32; FSType=fsType string; readOnly bool; WWIDs=wwids []string
    v1.AzureFileVolumeSource: secretName string; shareName string; readOnly bool
    v1.ConfigMapVolumeSource: ~ v1.LocalObjectReference; items []v1.KeyToPath; defaultMode *int32; optional *bool
    v1.VsphereVirtualDiskVolumeSource: volumePath string; FSType=fsType string; storagePolicyName string;
        storagePolicyID string
    v1.QuobyteVolumeSource: registry string; volume string; readOnly bool; user string; group string; tenant string
    v1.AzureDiskVolumeSource: diskName string; DataDiskURI=diskURI string; cachingMode *v1.AzureDataDiskCachingMode;
        FSType=fsType *string; readOnly *bool; kind *v1.AzureDataDiskKind
    v1.PhotonPersistentDiskVolumeSource: pdID string; FSType=fsType string
    v1.ProjectedVolumeSource: sources []v1.VolumeProjection; defaultMode *int32
    v1.VolumeProjection: secret *v1.SecretProjection; downwardAPI *v1.DownwardAPIProjection;
        configMap *v1.ConfigMapProjection; serviceAccountToken *v1.ServiceAccountTokenProjection;
        clusterTrustBundle *v1.ClusterTrustBundleProjection; podCertificate *v1.PodCertificateProjection
    v1.SecretProjection: ~ v1.LocalObjectReference; items []v1.KeyToPath; optional *bool
    v1.DownwardAPIProjection: items []v1.DownwardAPIVolumeFile
    v1.ConfigMapProjection: ~ v1.LocalObjectReference; items []v1.KeyToPath; optional *bool
    v1.ServiceAccountTokenProjection: audience string; expirationSeconds *int64; path string
    v1.ClusterTrustBundleProjection: name *string; signerName *string; labelSelector *v1.LabelSelector;
        optional *bool; path string
    v1.LabelSelector: matchLabels map[string]string; matchExpressions []v1.LabelSelectorRequirement
    v1.LabelSelectorRequirement: key string; operator v1.LabelSelectorOperator; values []string
    v1.PodCertificateProjection: signerName string; keyType string; maxExpirationSeconds *int32;
        credentialBundlePath string; keyPath string; certificateChainPath string; userAnnotations map[string]string
    v1.PortworxVolumeSource: volumeID string; FSType=fsType string; readOnly bool
    v1.ScaleIOVolumeSource: gateway string; system string; secretRef *v1.LocalObjectReference;
        SSLEnabled=sslEnabled bool; protectionDomain string; storagePool string; storageMode string;
        volumeName string; FSType=fsType string; readOnly bool
    v1.StorageOSVolumeSource: volumeName string; volumeNamespace string; FSType=fsType string; readOnly bool;
        secretRef *v1.LocalObjectReference
    v1.CSIVolumeSource: driver string; readOnly *bool; FSType=fsType *string; volumeAttributes map[string]string;
        nodePublishSecretRef *v1.LocalObjectReference
    v1.EphemeralVolumeSource: volumeClaimTemplate *v1.PersistentVolumeClaimTemplate
    v1.PersistentVolumeClaimTemplate: ObjectMeta=metadata v1.ObjectMeta; spec v1.PersistentVolumeClaimSpec
    v1.PersistentVolumeClaimSpec: accessModes []v1.PersistentVolumeAccessMode; selector *v1.LabelSelector;
        resources v1.VolumeResourceRequirements; volumeName string; storageClassName *string;
        volumeMode *v1.PersistentVolumeMode; dataSource *v1.TypedLocalObjectReference;
        dataSourceRef *v1.TypedObjectReference; volumeAttributesClassName *string
    v1.VolumeResourceRequirements: limits v1.ResourceList; requests v1.ResourceList
    v1.TypedLocalObjectReference: APIGroup=apiGroup *string; kind string; name string
    v1.TypedObjectReference: APIGroup=apiGroup *string; kind string; name string; namespace *string
    v1.ImageVolumeSource: reference string; pullPolicy v1.PullPolicy
    v1.Container: name string; image string; command []string; args []string; workingDir string;
        ports []v1.ContainerPort; envFrom []v1.EnvFromSource; env []v1.EnvVar; resources v1.ResourceRequirements;
        resizePolicy []v1.ContainerResizePolicy; restartPolicy *v1.ContainerRestartPolicy;
        restartPolicyRules []v1.ContainerRestartRule; volumeMounts []v1.VolumeMount; volumeDevices []v1.VolumeDevice;
        livenessProbe *v1.Probe; readinessProbe *v1.Probe; startupProbe *v1.Probe; lifecycle *v1.Lifecycle;
        terminationMessagePath string; terminationMessagePolicy v1.TerminationMessagePolicy;
        imagePullPolicy v1.PullPolicy; securityContext *v1.SecurityContext; stdin bool; stdinOnce bool; TTY=tty bool
    v1.ContainerPort: name string; hostPort int32; containerPort int32; protocol v1.Protocol; hostIP string
    v1.EnvFromSource: prefix string; configMapRef *v1.ConfigMapEnvSource; secretRef *v1.SecretEnvSource
    v1.ConfigMapEnvSource: ~ v1.LocalObjectReference; optional *bool
    v1.SecretEnvSource: ~ v1.LocalObjectReference; optional *bool
    v1.EnvVar: name string; value string; valueFrom *v1.EnvVarSource
    v1.EnvVarSource: fieldRef *v1.ObjectFieldSelector; resourceFieldRef *v1.ResourceFieldSelector;
        configMapKeyRef *v1.ConfigMapKeySelector; secretKeyRef *v1.SecretKeySelector; fileKeyRef *v1.FileKeySelector
    v1.ConfigMapKeySelector: ~ v1.LocalObjectReference; key string; optional *bool
    v1.SecretKeySelector: ~ v1.LocalObjectReference; key string; optional *bool
    v1.FileKeySelector: volumeName string; path string; key string; optional *bool
    v1.ResourceRequirements: limits v1.ResourceList; requests v1.ResourceList; claims []v1.ResourceClaim
    v1.ResourceClaim: name string; request string
    v1.ContainerResizePolicy: resourceName v1.ResourceName; restartPolicy v1.ResourceResizeRestartPolicy
    v1.ContainerRestartRule: action v1.ContainerRestartRuleAction; exitCodes *v1.ContainerRestartRuleOnExitCodes
    v1.ContainerRestartRuleOnExitCodes: operator v1.ContainerRestartRuleOnExitCodesOperator; values []int32
    v1.VolumeMount: name string; readOnly bool; recursiveReadOnly *v1.RecursiveReadOnlyMode; mountPath string;
        subPath string; mountPropagation *v1.MountPropagationMode; subPathExpr string
    v1.VolumeDevice: name string; devicePath string
    v1.Probe: ~ v1.ProbeHandler; initialDelaySeconds int32; timeoutSeconds int32; periodSeconds int32;
        successThreshold int32; failureThreshold int32; terminationGracePeriodSeconds *int64
    v1.ProbeHandler: exec *v1.ExecAction; HTTPGet=httpGet *v1.HTTPGetAction; TCPSocket=tcpSocket *v1.TCPSocketAction;
        GRPC=grpc *v1.GRPCAction
    v1.ExecAction: command []string
    v1.HTTPGetAction: path string; port intstr.IntOrString; host string; scheme v1.URIScheme;
        HTTPHeaders=httpHeaders []v1.HTTPHeader
    v1.HTTPHeader: name string; value string
    v1.TCPSocketAction: port intstr.IntOrString; host string
    v1.GRPCAction: port int32; service *string
    v1.Lifecycle: postStart *v1.LifecycleHandler; preStop *v1.LifecycleHandler; stopSignal *v1.Signal
    v1.LifecycleHandler: exec *v1.ExecAction; HTTPGet=httpGet *v1.HTTPGetAction;
        TCPSocket=tcpSocket *v1.TCPSocketAction; sleep *v1.SleepAction
    v1.SleepAction: seconds int64
    v1.SecurityContext: capabilities *v1.Capabilities; privileged *bool;
        SELinuxOptions=seLinuxOptions *v1.SELinuxOptions; windowsOptions *v1.WindowsSecurityContextOptions;
        runAsUser *int64; runAsGroup *int64; runAsNonRoot *bool; readOnlyRootFilesystem *bool;
        allowPrivilegeEscalation *bool; procMount *v1.ProcMountType; seccompProfile *v1.SeccompProfile;
        appArmorProfile *v1.AppArmorProfile
    v1.Capabilities: add []v1.Capability; drop []v1.Capability
    v1.SELinuxOptions: user string; role string; type string; level string
    v1.WindowsSecurityContextOptions: GMSACredentialSpecName=gmsaCredentialSpecName *string;
        GMSACredentialSpec=gmsaCredentialSpec *string; runAsUserName *string; hostProcess *bool
    v1.SeccompProfile: type v1.SeccompProfileType; localhostProfile *string
    v1.AppArmorProfile: type v1.AppArmorProfileType; localhostProfile *string
    v1.EphemeralContainer: ~ v1.EphemeralContainerCommon; targetContainerName string
    v1.EphemeralContainerCommon: name string; image string; command []string; args []string; workingDir string;
        ports []v1.ContainerPort; envFrom []v1.EnvFromSource; env []v1.EnvVar; resources v1.ResourceRequirements;
        resizePolicy []v1.ContainerResizePolicy; restartPolicy *v1.ContainerRestartPolicy;
        restartPolicyRules []v1.ContainerRestartRule; volumeMounts []v1.VolumeMount; volumeDevices []v1.VolumeDevice;
        livenessProbe *v1.Probe; readinessProbe *v1.Probe; startupProbe *v1.Probe; lifecycle *v1.Lifecycle;
        terminationMessagePath string; terminationMessagePolicy v1.TerminationMessagePolicy;
        imagePullPolicy v1.PullPolicy; securityContext *v1.SecurityContext; stdin bool; stdinOnce bool; TTY=tty bool
    v1.PodSecurityContext: SELinuxOptions=seLinuxOptions *v1.SELinuxOptions;
        windowsOptions *v1.WindowsSecurityContextOptions; runAsUser *int64; runAsGroup *int64; runAsNonRoot *bool;
        supplementalGroups []int64; supplementalGroupsPolicy *v1.SupplementalGroupsPolicy; FSGroup=fsGroup *int64;
        sysctls []v1.Sysctl; FSGroupChangePolicy=fsGroupChangePolicy *v1.PodFSGroupChangePolicy;
        seccompProfile *v1.SeccompProfile; appArmorProfile *v1.AppArmorProfile;
        SELinuxChangePolicy=seLinuxChangePolicy *v1.PodSELinuxChangePolicy
    v1.Sysctl: name string; value string
    v1.Affinity: nodeAffinity *v1.NodeAffinity; podAffinity *v1.PodAffinity; podAntiAffinity *v1.PodAntiAffinity
    v1.NodeAffinity: requiredDuringSchedulingIgnoredDuringExecution *v1.NodeSelector;
        preferredDuringSchedulingIgnoredDuringExecution []v1.PreferredSchedulingTerm
    v1.NodeSelector: nodeSelectorTerms []v1.NodeSelectorTerm
    v1.NodeSelectorTerm: matchExpressions []v1.NodeSelectorRequirement; matchFields []v1.NodeSelectorRequirement
    v1.NodeSelectorRequirement: key string; operator v1.NodeSelectorOperator; values []string
    v1.PreferredSchedulingTerm: weight int32; preference v1.NodeSelectorTerm
    v1.PodAffinity: requiredDuringSchedulingIgnoredDuringExecution []v1.PodAffinityTerm;
        preferredDuringSchedulingIgnoredDuringExecution []v1.WeightedPodAffinityTerm
    v1.PodAffinityTerm: labelSelector *v1.LabelSelector; namespaces []string; topologyKey string;
        namespaceSelector *v1.LabelSelector; matchLabelKeys []string; mismatchLabelKeys []string
    v1.WeightedPodAffinityTerm: weight int32; podAffinityTerm v1.PodAffinityTerm
    v1.PodAntiAffinity: requiredDuringSchedulingIgnoredDuringExecution []v1.PodAffinityTerm;
        preferredDuringSchedulingIgnoredDuringExecution []v1.WeightedPodAffinityTerm
    v1.Toleration: key string; operator v1.TolerationOperator; value string; effect v1.TaintEffect;
        tolerationSeconds *int64
    v1.HostAlias: IP=ip string; hostnames []string
    v1.PodDNSConfig: nameservers []string; searches []string; options []v1.PodDNSConfigOption
    v1.PodDNSConfigOption: name string; value *string
    v1.PodReadinessGate: conditionType v1.PodConditionType
    v1.TopologySpreadConstraint: maxSkew int32; topologyKey string;
        whenUnsatisfiable v1.UnsatisfiableConstraintAction; labelSelector *v1.LabelSelector; minDomains *int32;
        nodeAffinityPolicy *v1.NodeInclusionPolicy; nodeTaintsPolicy *v1.NodeInclusionPolicy; matchLabelKeys []string
    v1.PodOS: name v1.OSName
    v1.PodSchedulingGate: name string
    v1.PodResourceClaim: name string; resourceClaimName *string; resourceClaimTemplateName *string
    v1.PodSchedulingGroup: podGroupName *string
    """
}
