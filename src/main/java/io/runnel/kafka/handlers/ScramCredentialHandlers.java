package io.runnel.kafka.handlers;

import io.runnel.kafka.ApiHandler;
import io.runnel.kafka.RequestContext;
import io.runnel.kafka.TypedApiHandler;
import io.runnel.security.ScramCredentials;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.message.AlterUserScramCredentialsRequestData.ScramCredentialDeletion;
import org.apache.kafka.common.message.AlterUserScramCredentialsRequestData.ScramCredentialUpsertion;
import org.apache.kafka.common.message.AlterUserScramCredentialsResponseData.AlterUserScramCredentialsResult;
import org.apache.kafka.common.message.AlterUserScramCredentialsResponseData;
import org.apache.kafka.common.message.DescribeUserScramCredentialsRequestData.UserName;
import org.apache.kafka.common.message.DescribeUserScramCredentialsResponseData.CredentialInfo;
import org.apache.kafka.common.message.DescribeUserScramCredentialsResponseData.DescribeUserScramCredentialsResult;
import org.apache.kafka.common.message.DescribeUserScramCredentialsResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.AlterUserScramCredentialsRequest;
import org.apache.kafka.common.requests.AlterUserScramCredentialsResponse;
import org.apache.kafka.common.requests.DescribeUserScramCredentialsRequest;
import org.apache.kafka.common.requests.DescribeUserScramCredentialsResponse;
import org.apache.kafka.common.security.scram.ScramCredential;
import org.apache.kafka.common.security.scram.internals.ScramFormatter;
import org.apache.kafka.common.security.scram.internals.ScramMechanism;

/**
 * DescribeUserScramCredentials and AlterUserScramCredentials (KIP-554): what {@code kafka-configs.sh --entity-type
 * users --alter --add-config 'SCRAM-SHA-256=[iterations=8192,password=...]'} sends. The client salts and hashes the
 * password; the broker derives the stored and server keys from the salted password and keeps only those (the
 * salted password is not stored either). Validation and error codes follow Kafka's controller.
 */
public final class ScramCredentialHandlers {
    private ScramCredentialHandlers() {
    }

    public static List<ApiHandler> all() {
        return List.of(new Describe(), new Alter());
    }

    static final class Describe extends TypedApiHandler<DescribeUserScramCredentialsRequest> {
        Describe() {
            super(ApiKeys.DESCRIBE_USER_SCRAM_CREDENTIALS, DescribeUserScramCredentialsRequest.class, AclOperation.DESCRIBE);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, DescribeUserScramCredentialsRequest request) {
            Map<String, Map<ScramMechanism, Integer>> all = ctx.security().scram().describe();
            List<DescribeUserScramCredentialsResult> results = new ArrayList<>();
            List<UserName> asked = request.data().users();
            if (asked == null || asked.isEmpty()) {
                all.forEach((user, creds) -> results.add(described(user, creds)));
            } else {
                Map<String, Integer> counts = new HashMap<>();
                asked.forEach(u -> counts.merge(u.name(), 1, Integer::sum));
                Set<String> done = new HashSet<>();
                for (UserName u : asked) {
                    if (!done.add(u.name())) continue;
                    if (counts.get(u.name()) > 1) {
                        results.add(new DescribeUserScramCredentialsResult().setUser(u.name()).setErrorCode(Errors.DUPLICATE_RESOURCE.code())
                                .setErrorMessage("Cannot describe SCRAM credentials for the same user twice in a single request: " + u.name()));
                    } else if (!all.containsKey(u.name())) {
                        results.add(new DescribeUserScramCredentialsResult().setUser(u.name()).setErrorCode(Errors.RESOURCE_NOT_FOUND.code())
                                .setErrorMessage("Attempt to describe a user credential that does not exist: " + u.name()));
                    } else {
                        results.add(described(u.name(), all.get(u.name())));
                    }
                }
            }
            return Future.succeededFuture(new DescribeUserScramCredentialsResponse(new DescribeUserScramCredentialsResponseData().setResults(results)));
        }

        private static DescribeUserScramCredentialsResult described(String user, Map<ScramMechanism, Integer> creds) {
            List<CredentialInfo> infos = new ArrayList<>();
            creds.forEach((m, iterations) -> infos.add(new CredentialInfo().setMechanism(m.type()).setIterations(iterations)));
            return new DescribeUserScramCredentialsResult().setUser(user).setCredentialInfos(infos);
        }
    }

    static final class Alter extends TypedApiHandler<AlterUserScramCredentialsRequest> {
        Alter() {
            super(ApiKeys.ALTER_USER_SCRAM_CREDENTIALS, AlterUserScramCredentialsRequest.class, AclOperation.ALTER);
        }

        @Override
        protected Future<AbstractResponse> serve(RequestContext ctx, AlterUserScramCredentialsRequest request) {
            ScramCredentials store = ctx.security().scram();
            Map<String, Integer> perUser = new HashMap<>();
            request.data().deletions().forEach(d -> perUser.merge(d.name(), 1, Integer::sum));
            request.data().upsertions().forEach(u -> perUser.merge(u.name(), 1, Integer::sum));
            Map<String, AlterUserScramCredentialsResult> results = new LinkedHashMap<>();
            Map<String, Map<ScramMechanism, ScramCredential>> changes = new LinkedHashMap<>();
            for (ScramCredentialDeletion d : request.data().deletions()) {
                ScramMechanism m = mechanism(d.mechanism());
                Errors error = Errors.NONE;
                String message = null;
                if (d.name().isEmpty()) {
                    error = Errors.UNACCEPTABLE_CREDENTIAL;
                    message = "Username must not be empty";
                } else if (perUser.get(d.name()) > 1) {
                    error = Errors.DUPLICATE_RESOURCE;
                    message = "A user credential cannot be altered twice in the same request";
                } else if (m == null) {
                    error = Errors.UNSUPPORTED_SASL_MECHANISM;
                    message = "Unknown SCRAM mechanism";
                } else if (store.get(d.name(), m) == null) {
                    error = Errors.RESOURCE_NOT_FOUND;
                    message = "Attempt to delete a user credential that does not exist";
                } else {
                    changes.computeIfAbsent(d.name(), k -> new HashMap<>()).put(m, null);
                }
                results.put(d.name(), result(d.name(), error, message));
            }
            for (ScramCredentialUpsertion u : request.data().upsertions()) {
                ScramMechanism m = mechanism(u.mechanism());
                Errors error = Errors.NONE;
                String message = null;
                if (u.name().isEmpty()) {
                    error = Errors.UNACCEPTABLE_CREDENTIAL;
                    message = "Username must not be empty";
                } else if (perUser.get(u.name()) > 1) {
                    error = Errors.DUPLICATE_RESOURCE;
                    message = "A user credential cannot be altered twice in the same request";
                } else if (m == null) {
                    error = Errors.UNSUPPORTED_SASL_MECHANISM;
                    message = "Unknown SCRAM mechanism";
                } else if (u.iterations() < m.minIterations()) {
                    error = Errors.UNACCEPTABLE_CREDENTIAL;
                    message = "Too few iterations";
                } else if (u.iterations() > m.maxIterations()) {
                    error = Errors.UNACCEPTABLE_CREDENTIAL;
                    message = "Too many iterations";
                } else if (u.salt() == null || u.salt().length == 0 || u.saltedPassword() == null || u.saltedPassword().length == 0) {
                    error = Errors.UNACCEPTABLE_CREDENTIAL;
                    message = "Salt and salted password must not be empty";
                } else {
                    try {
                        changes.computeIfAbsent(u.name(), k -> new HashMap<>())
                                .put(m, new ScramFormatter(m).generateCredential(u.salt(), u.saltedPassword(), u.iterations()));
                    } catch (Exception e) {
                        error = Errors.UNACCEPTABLE_CREDENTIAL;
                        message = "Cannot derive the SCRAM keys: " + e.getClass().getSimpleName();
                    }
                }
                results.put(u.name(), result(u.name(), error, message));
            }
            if (changes.isEmpty()) return Future.succeededFuture(response(results));
            return Vertx.currentContext().executeBlocking(() -> {
                store.update(changes);
                return null;
            }, true).transform(ar -> {
                if (ar.failed()) {
                    for (String user : changes.keySet()) {
                        results.put(user, result(user, Errors.UNKNOWN_SERVER_ERROR, "The credentials could not be stored: " + ar.cause().getMessage()));
                    }
                }
                return Future.succeededFuture(response(results));
            });
        }

        private static AbstractResponse response(Map<String, AlterUserScramCredentialsResult> results) {
            return new AlterUserScramCredentialsResponse(new AlterUserScramCredentialsResponseData().setResults(new ArrayList<>(results.values())));
        }

        private static AlterUserScramCredentialsResult result(String user, Errors error, String message) {
            return new AlterUserScramCredentialsResult().setUser(user).setErrorCode(error.code()).setErrorMessage(message);
        }

        private static ScramMechanism mechanism(byte type) {
            for (ScramMechanism m : ScramMechanism.values()) if (m.type() == type) return m;
            return null;
        }
    }
}
