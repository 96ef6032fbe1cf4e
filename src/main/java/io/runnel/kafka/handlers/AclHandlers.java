package io.runnel.kafka.handlers;

import io.runnel.kafka.ApiHandler;
import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.runnel.security.AclStore;
import io.runnel.security.Authorizer;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.message.CreateAclsRequestData.AclCreation;
import org.apache.kafka.common.message.CreateAclsResponseData.AclCreationResult;
import org.apache.kafka.common.message.CreateAclsResponseData;
import org.apache.kafka.common.message.DeleteAclsResponseData.DeleteAclsFilterResult;
import org.apache.kafka.common.message.DeleteAclsResponseData;
import org.apache.kafka.common.message.DescribeAclsResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.ApiError;
import org.apache.kafka.common.requests.CreateAclsRequest;
import org.apache.kafka.common.requests.CreateAclsResponse;
import org.apache.kafka.common.requests.DeleteAclsRequest;
import org.apache.kafka.common.requests.DeleteAclsResponse;
import org.apache.kafka.common.requests.DescribeAclsRequest;
import org.apache.kafka.common.requests.DescribeAclsResponse;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.common.security.auth.KafkaPrincipal;
import org.apache.kafka.common.utils.internals.SecurityUtils;

/**
 * CreateAcls, DescribeAcls and DeleteAcls, what {@code kafka-acls.sh} and {@code Admin.createAcls} send. Creating and
 * deleting need ALTER on the cluster, describing DESCRIBE (Kafka's rules); with no authorizer configured Kafka
 * answers SECURITY_DISABLED, and so does Runnel. Each ACL is validated as Kafka's controller does.
 */
public final class AclHandlers {
    private AclHandlers() {
    }

    public static List<ApiHandler> all() {
        return List.of(new Create(), new Describe(), new Delete());
    }

    static final class Create extends TypedApiHandler<CreateAclsRequest> {
        Create() {
            super(ApiKeys.CREATE_ACLS, CreateAclsRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, CreateAclsRequest request) {
            List<AclCreation> creations = request.data().creations();
            Errors refused = refusal(ctx, AclOperation.ALTER);
            List<AclCreationResult> results = new ArrayList<>();
            if (refused != null) {
                creations.forEach(c -> results.add(new AclCreationResult().setErrorCode(refused.code()).setErrorMessage(message(refused))));
                return Future.succeededFuture(new CreateAclsResponse(new CreateAclsResponseData().setResults(results)));
            }
            List<AclBinding> valid = new ArrayList<>();
            for (AclCreation c : creations) {
                AclCreationResult r = new AclCreationResult();
                try {
                    AclBinding b = CreateAclsRequest.aclBinding(c);
                    String problem = invalid(b);
                    if (problem != null) r.setErrorCode(Errors.INVALID_REQUEST.code()).setErrorMessage(problem);
                    else valid.add(b);
                } catch (RuntimeException e) {
                    r.setErrorCode(Errors.INVALID_REQUEST.code()).setErrorMessage("Invalid ACL: " + e.getMessage());
                }
                results.add(r);
            }
            if (valid.isEmpty()) return Future.succeededFuture(new CreateAclsResponse(new CreateAclsResponseData().setResults(results)));
            AclStore store = ctx.security().authorizer().acls();
            return Vertx.currentContext().executeBlocking(() -> {
                store.add(valid);
                return null;
            }, true).transform(ar -> {
                if (ar.failed()) {
                    for (AclCreationResult r : results) {
                        if (r.errorCode() == 0) r.setErrorCode(Errors.UNKNOWN_SERVER_ERROR.code()).setErrorMessage("The ACLs could not be stored: " + ar.cause().getMessage());
                    }
                }
                return Future.succeededFuture(new CreateAclsResponse(new CreateAclsResponseData().setResults(results)));
            });
        }

        /** Why Kafka's controller would refuse this ACL, or null. */
        private static String invalid(AclBinding b) {
            if (b.isUnknown()) return "Invalid ACL: it has an unknown element";
            if (b.pattern().patternType() != PatternType.LITERAL && b.pattern().patternType() != PatternType.PREFIXED) {
                return "Invalid pattern type " + b.pattern().patternType() + ": only LITERAL and PREFIXED ACLs can be created";
            }
            if (b.pattern().resourceType() == ResourceType.ANY) return "Invalid resource type ANY";
            if (b.entry().operation() == AclOperation.ANY) return "Invalid operation ANY";
            if (b.entry().permissionType() == AclPermissionType.ANY) return "Invalid permission type ANY";
            if (b.pattern().name().isEmpty()) return "Resource name must not be empty";
            if (b.pattern().resourceType() == ResourceType.CLUSTER && !b.pattern().name().equals(Authorizer.CLUSTER)) {
                return "The only valid name for the CLUSTER resource is " + Authorizer.CLUSTER;
            }
            try {
                KafkaPrincipal p = SecurityUtils.parseKafkaPrincipal(b.entry().principal());
                if (p.getName().isEmpty()) return "Invalid principal " + b.entry().principal();
            } catch (IllegalArgumentException e) {
                return "Invalid principal " + b.entry().principal() + ": expected Type:name, such as User:alice";
            }
            if (b.entry().host().isEmpty()) return "Invalid host: use * for any host";
            return null;
        }
    }

    static final class Describe extends TypedApiHandler<DescribeAclsRequest> {
        Describe() {
            super(ApiKeys.DESCRIBE_ACLS, DescribeAclsRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, DescribeAclsRequest request) {
            Errors refused = refusal(ctx, AclOperation.DESCRIBE);
            DescribeAclsResponseData out = new DescribeAclsResponseData();
            if (refused != null) {
                out.setErrorCode(refused.code()).setErrorMessage(message(refused));
            } else {
                out.setResources(DescribeAclsResponse.aclsResources(ctx.security().authorizer().acls().find(request.filter())));
            }
            return Future.succeededFuture(new DescribeAclsResponse(out, request.version()));
        }
    }

    static final class Delete extends TypedApiHandler<DeleteAclsRequest> {
        Delete() {
            super(ApiKeys.DELETE_ACLS, DeleteAclsRequest.class);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, DeleteAclsRequest request) {
            List<AclBindingFilter> filters = request.filters();
            Errors refused = refusal(ctx, AclOperation.ALTER);
            if (refused != null) {
                List<DeleteAclsFilterResult> results = new ArrayList<>();
                filters.forEach(f -> results.add(new DeleteAclsFilterResult().setErrorCode(refused.code()).setErrorMessage(message(refused))));
                return Future.succeededFuture(new DeleteAclsResponse(new DeleteAclsResponseData().setFilterResults(results), request.version()));
            }
            AclStore store = ctx.security().authorizer().acls();
            return Vertx.currentContext().executeBlocking(() -> store.remove(filters), true).map(removed -> {
                List<DeleteAclsFilterResult> results = new ArrayList<>();
                for (List<AclBinding> matched : removed) {
                    List<DeleteAclsResponseData.DeleteAclsMatchingAcl> acls = new ArrayList<>();
                    matched.forEach(b -> acls.add(DeleteAclsResponse.matchingAcl(b, ApiError.NONE)));
                    results.add(new DeleteAclsFilterResult().setMatchingAcls(acls));
                }
                return new DeleteAclsResponse(new DeleteAclsResponseData().setFilterResults(results), request.version());
            });
        }
    }

    /** SECURITY_DISABLED without an authorizer, CLUSTER_AUTHORIZATION_FAILED without {@code op} on the cluster, else null. */
    private static Errors refusal(RequestContext ctx, AclOperation op) {
        if (!ctx.security().authorizer().enabled()) return Errors.SECURITY_DISABLED;
        return ctx.authorizeCluster(op) ? null : Errors.CLUSTER_AUTHORIZATION_FAILED;
    }

    private static String message(Errors error) {
        return error == Errors.SECURITY_DISABLED ? "No authorizer is configured on the broker (authorizer.class.name)" : error.message();
    }
}
