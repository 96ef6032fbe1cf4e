package io.runnel.group;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.common.errors.InvalidConfigurationException;

/**
 * The configuration of one group, as Kafka 4 keeps it (IncrementalAlterConfigs and DescribeConfigs on a GROUP
 * resource, Kafka's {@code GroupConfig}): overrides of the broker's {@code group.share.*} and
 * {@code group.consumer.*} keys. Unknown names and values out of range are refused (INVALID_CONFIG).
 */
public final class GroupConfig {
    public static final String SHARE_AUTO_OFFSET_RESET = "share.auto.offset.reset";
    public static final String SHARE_ISOLATION_LEVEL = "share.isolation.level";
    public static final String SHARE_RECORD_LOCK_DURATION_MS = "share.record.lock.duration.ms";
    public static final String SHARE_DELIVERY_COUNT_LIMIT = "share.delivery.count.limit";
    public static final String SHARE_PARTITION_MAX_RECORD_LOCKS = "share.partition.max.record.locks";
    public static final String SHARE_SESSION_TIMEOUT_MS = "share.session.timeout.ms";
    public static final String SHARE_HEARTBEAT_INTERVAL_MS = "share.heartbeat.interval.ms";
    /** KIP-1222: whether members may renew their locks (RENEW acknowledgements); Kafka 4.4's default true. */
    public static final String SHARE_RENEW_ACKNOWLEDGE_ENABLE = "share.renew.acknowledge.enable";
    public static final String CONSUMER_SESSION_TIMEOUT_MS = "consumer.session.timeout.ms";
    public static final String CONSUMER_HEARTBEAT_INTERVAL_MS = "consumer.heartbeat.interval.ms";

    /** The names Runnel knows, in DescribeConfigs' order. */
    public static final Set<String> NAMES = Set.of(SHARE_AUTO_OFFSET_RESET, SHARE_ISOLATION_LEVEL, SHARE_RECORD_LOCK_DURATION_MS,
            SHARE_DELIVERY_COUNT_LIMIT, SHARE_PARTITION_MAX_RECORD_LOCKS, SHARE_SESSION_TIMEOUT_MS, SHARE_HEARTBEAT_INTERVAL_MS,
            SHARE_RENEW_ACKNOWLEDGE_ENABLE, CONSUMER_SESSION_TIMEOUT_MS, CONSUMER_HEARTBEAT_INTERVAL_MS);

    private GroupConfig() {
    }

    /** Every key with its value for a group: the override, else the broker's value (or Kafka's default). */
    static Map<String, String> effective(Map<String, String> overrides, GroupSettings s) {
        Map<String, String> out = new LinkedHashMap<>();
        out.put(SHARE_AUTO_OFFSET_RESET, "latest");
        out.put(SHARE_ISOLATION_LEVEL, "read_committed");
        out.put(SHARE_RECORD_LOCK_DURATION_MS, Integer.toString(s.shareLockDurationMs()));
        out.put(SHARE_DELIVERY_COUNT_LIMIT, Integer.toString(s.shareDeliveryCountLimit()));
        out.put(SHARE_PARTITION_MAX_RECORD_LOCKS, Integer.toString(s.shareMaxRecordLocks()));
        out.put(SHARE_SESSION_TIMEOUT_MS, Integer.toString(s.shareSessionTimeoutMs()));
        out.put(SHARE_HEARTBEAT_INTERVAL_MS, Integer.toString(s.shareHeartbeatIntervalMs()));
        out.put(SHARE_RENEW_ACKNOWLEDGE_ENABLE, "true");
        out.put(CONSUMER_SESSION_TIMEOUT_MS, Integer.toString(s.consumerSessionTimeoutMs()));
        out.put(CONSUMER_HEARTBEAT_INTERVAL_MS, Integer.toString(s.consumerHeartbeatIntervalMs()));
        out.putAll(overrides);
        return out;
    }

    /** Checks one value; throws InvalidConfigurationException with the reason. */
    public static void validate(String name, String value) {
        if (!NAMES.contains(name)) throw new InvalidConfigurationException("Unknown group config name: " + name);
        switch (name) {
            case SHARE_AUTO_OFFSET_RESET -> {
                if (value.equals("latest") || value.equals("earliest")) return;
                if (value.startsWith("by_duration:")) {
                    try {
                        if (!Duration.parse(value.substring("by_duration:".length())).isNegative()) return;
                    } catch (DateTimeParseException e) {
                        // below
                    }
                }
                throw new InvalidConfigurationException("Invalid value " + value + " for " + name
                        + ": latest, earliest or by_duration:<ISO-8601 duration>");
            }
            case SHARE_ISOLATION_LEVEL -> {
                if (!value.equals("read_committed") && !value.equals("read_uncommitted")) {
                    throw new InvalidConfigurationException("Invalid value " + value + " for " + name + ": read_committed or read_uncommitted");
                }
            }
            case SHARE_RENEW_ACKNOWLEDGE_ENABLE -> {
                if (!value.equals("true") && !value.equals("false")) {
                    throw new InvalidConfigurationException("Invalid value " + value + " for " + name + ": true or false");
                }
            }
            case SHARE_RECORD_LOCK_DURATION_MS -> range(name, value, 1_000, 3_600_000);
            case SHARE_DELIVERY_COUNT_LIMIT -> range(name, value, 2, 10);
            case SHARE_PARTITION_MAX_RECORD_LOCKS -> range(name, value, 100, 10_000);
            default -> range(name, value, 1, Integer.MAX_VALUE);
        }
    }

    /**
     * Checks a group's keys against each other once each passed {@link #validate} ({@code effective}: every key, the
     * group's overrides over the broker's): a session timeout must be longer than the heartbeat interval, as Kafka's
     * GroupConfig requires of share and consumer groups.
     */
    static void validateTogether(Map<String, String> effective) {
        sessionOverHeartbeat(effective, SHARE_SESSION_TIMEOUT_MS, SHARE_HEARTBEAT_INTERVAL_MS);
        sessionOverHeartbeat(effective, CONSUMER_SESSION_TIMEOUT_MS, CONSUMER_HEARTBEAT_INTERVAL_MS);
    }

    private static void sessionOverHeartbeat(Map<String, String> effective, String session, String heartbeat) {
        if (Integer.parseInt(effective.get(session).trim()) <= Integer.parseInt(effective.get(heartbeat).trim())) {
            throw new InvalidConfigurationException(session + " (" + effective.get(session) + ") must be greater than " + heartbeat
                    + " (" + effective.get(heartbeat) + ")");
        }
    }

    private static void range(String name, String value, int min, int max) {
        int v;
        try {
            v = Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new InvalidConfigurationException("Invalid value " + value + " for " + name + ": not a number");
        }
        if (v < min || v > max) throw new InvalidConfigurationException("Invalid value " + value + " for " + name + ": between " + min + " and " + max);
    }
}
