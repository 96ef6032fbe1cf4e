package io.runnel.security;

import io.runnel.config.BrokerConfig;
import io.runnel.config.Limits;
import io.runnel.config.SecurityKeys;
import io.runnel.metrics.BrokerMetrics;
import java.util.List;
import java.util.Set;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.common.security.auth.KafkaPrincipal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * ACL authorization with the semantics of Kafka's {@code StandardAuthorizer}, shared by the Kafka, REST and WebSocket
 * endpoints. Off (everything allowed) unless {@code authorizer.class.name} names Kafka's authorizer.
 *
 * <p>A request is allowed when the principal is a super user; otherwise the ACLs whose pattern applies to the resource
 * (LITERAL with the same name or {@code *}, PREFIXED with a prefix of it) are checked: a DENY for the principal (or
 * {@code User:*}) and host (or {@code *}) with the operation or ALL denies, whatever else applies; else an ALLOW with
 * the operation, ALL or an operation that implies it allows (READ, WRITE, DELETE and ALTER imply DESCRIBE;
 * ALTER_CONFIGS implies DESCRIBE_CONFIGS). When no ACL applies to the resource at all,
 * {@code allow.everyone.if.no.acl.found} decides. Thread-safe; never blocks.
 */
public final class Authorizer {
    private static final Logger AUDIT = LoggerFactory.getLogger("io.runnel.security.audit");
    /** The one CLUSTER resource's name, as in Kafka. */
    public static final String CLUSTER = "kafka-cluster";

    private final boolean enabled;
    private final Set<String> superUsers;
    private final boolean allowIfNoAcl;
    private final AclStore acls;
    private final BrokerMetrics metrics;
    private final RateLimitedLog denials = new RateLimitedLog(Limits.AUTHZ_DENIAL_LOG_LINES_PER_MINUTE);

    Authorizer(BrokerConfig config, AclStore acls, BrokerMetrics metrics) {
        this.enabled = !config.get(SecurityKeys.AUTHORIZER_CLASS_NAME).isEmpty();
        List<String> supers = config.get(SecurityKeys.SUPER_USERS);
        this.superUsers = supers == null ? Set.of() : Set.copyOf(supers);
        this.allowIfNoAcl = config.get(SecurityKeys.ALLOW_EVERYONE_IF_NO_ACL_FOUND);
        this.acls = acls;
        this.metrics = metrics;
    }

    public boolean enabled() {
        return enabled;
    }

    public AclStore acls() {
        return acls;
    }

    /**
     * Whether {@code principal}, connected from {@code host}, may do {@code op} on the resource. A denial is counted
     * and audited (rate-limited) unless {@code quiet} (Kafka's "logIfDenied=false" for filtering checks such as
     * Metadata listing every topic).
     */
    public boolean authorize(KafkaPrincipal principal, String host, AclOperation op, ResourceType type, String name, boolean quiet) {
        if (!enabled || superUsers.contains(principal.toString())) return true;
        List<AclBinding> applicable = acls.matching(type, name);
        boolean allowed = decide(applicable, principal.toString(), host, op);
        if (!allowed && !quiet) denied(principal, host, op, type, name);
        return allowed;
    }

    public boolean authorize(KafkaPrincipal principal, String host, AclOperation op, ResourceType type, String name) {
        return authorize(principal, host, op, type, name, false);
    }

    /**
     * Whether the principal may do {@code op} on some resource of {@code type} (Kafka's {@code authorizeByResourceType}:
     * KIP-679's idempotent producer needs WRITE on any topic): some ALLOW of the principal applies and no DENY of a
     * whole type (a LITERAL {@code *} pattern) does.
     */
    public boolean authorizeAny(KafkaPrincipal principal, String host, AclOperation op, ResourceType type) {
        if (!enabled || superUsers.contains(principal.toString())) return true;
        List<AclBinding> ofType = acls.ofType(type);
        boolean allowed = false;
        for (AclBinding b : ofType) {
            if (!appliesTo(b, principal.toString(), host)) continue;
            if (b.entry().permissionType() == AclPermissionType.DENY && b.pattern().name().equals("*") && denies(b.entry().operation(), op)) return false;
            if (b.entry().permissionType() == AclPermissionType.ALLOW && allows(b.entry().operation(), op)) allowed = true;
        }
        return allowed || (ofType.isEmpty() && allowIfNoAcl);
    }

    private boolean decide(List<AclBinding> applicable, String principal, String host, AclOperation op) {
        boolean allowed = false;
        for (AclBinding b : applicable) {
            if (!appliesTo(b, principal, host)) continue;
            if (b.entry().permissionType() == AclPermissionType.DENY && denies(b.entry().operation(), op)) return false;
            if (b.entry().permissionType() == AclPermissionType.ALLOW && allows(b.entry().operation(), op)) allowed = true;
        }
        return allowed || (applicable.isEmpty() && allowIfNoAcl);
    }

    private static boolean appliesTo(AclBinding b, String principal, String host) {
        String p = b.entry().principal();
        String h = b.entry().host();
        return (p.equals(principal) || p.equals("User:*")) && (h.equals("*") || h.equals(host));
    }

    private static boolean denies(AclOperation aclOp, AclOperation op) {
        return aclOp == AclOperation.ALL || aclOp == op;
    }

    private static boolean allows(AclOperation aclOp, AclOperation op) {
        if (aclOp == AclOperation.ALL || aclOp == op) return true;
        return switch (op) {
            case DESCRIBE -> aclOp == AclOperation.READ || aclOp == AclOperation.WRITE || aclOp == AclOperation.DELETE || aclOp == AclOperation.ALTER;
            case DESCRIBE_CONFIGS -> aclOp == AclOperation.ALTER_CONFIGS;
            default -> false;
        };
    }

    private void denied(KafkaPrincipal principal, String host, AclOperation op, ResourceType type, String name) {
        if (metrics != null) metrics.authorizationDenied(type.name(), op.name());
        if (denials.admit()) {
            AUDIT.info("Authorization denied: principal={} host={} operation={} resource={}:{}", principal, host, op, type,
                    BrokerSecurity.printable(name));
        }
    }
}
