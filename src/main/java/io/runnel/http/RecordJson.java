package io.runnel.http;

import io.runnel.config.Limits;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;

/**
 * Records as JSON, both ways, for the REST API and the WebSocket gateway (formats in docs/http-api.md and
 * docs/websocket.md).
 *
 * <p>In: {@code {"key", "value", "headers", "partition", "timestamp"}}. A string is stored as its UTF-8 bytes, or
 * decoded from base64 when the record (or its frame) says {@code "encoding": "base64"}; any other JSON value (object,
 * array, number, boolean) is stored as its JSON text; null or absent is a null key or value. Headers are an object
 * of name to string, or an array of {@code {"key", "value"}} (Kafka allows a name twice).
 *
 * <p>Out: the same fields plus {@code offset} and {@code timestampType}. Bytes that are valid UTF-8 are given as a
 * string; others as base64, marked by {@code "keyEncoding"}, {@code "valueEncoding"} or a header's
 * {@code "encoding"} set to {@code "base64"}. A reader may ask for base64 throughout.
 */
public final class RecordJson {
    private RecordJson() {
    }

    /**
     * Whether an {@code isolation} parameter asks for read_committed ({@code "read_committed"}) rather than
     * read_uncommitted (the default, as Kafka's consumer); anything else is a 400.
     */
    static boolean readCommitted(Object isolation) {
        if (isolation == null || "read_uncommitted".equals(isolation)) return false;
        if ("read_committed".equals(isolation)) return true;
        throw ApiError.badRequest("\"isolation\" must be \"read_uncommitted\" or \"read_committed\", not " + isolation);
    }

    /** A record to produce. {@code partition} and {@code timestamp} are null when the broker chooses. */
    public record Outgoing(Integer partition, Long timestamp, byte[] key, byte[] value, Header[] headers) {
        /** Bytes of key, value and headers: what a produce credit counts. */
        public int payloadBytes() {
            int n = (key == null ? 0 : key.length) + (value == null ? 0 : value.length);
            for (Header h : headers) n += h.key().length() + (h.value() == null ? 0 : h.value().length);
            return n;
        }
    }

    /** Parses {@code records} (an array of record objects); throws {@link ApiError} naming the bad field. */
    public static List<Outgoing> parse(Object records, boolean base64Default) {
        if (!(records instanceof JsonArray array)) throw ApiError.badRequest("'records' must be an array of records");
        if (array.isEmpty()) throw ApiError.badRequest("'records' is empty");
        if (array.size() > Limits.HTTP_PRODUCE_MAX_RECORDS) {
            throw ApiError.badRequest("'records' holds " + array.size() + " records; at most " + Limits.HTTP_PRODUCE_MAX_RECORDS + " per request");
        }
        List<Outgoing> out = new ArrayList<>(array.size());
        for (int i = 0; i < array.size(); i++) {
            if (!(array.getValue(i) instanceof JsonObject r)) throw ApiError.badRequest("records[" + i + "] must be an object");
            out.add(parseOne(r, "records[" + i + "]", base64Default));
        }
        return out;
    }

    private static Outgoing parseOne(JsonObject r, String where, boolean base64Default) {
        for (String field : r.fieldNames()) {
            if (!List.of("key", "value", "headers", "partition", "timestamp", "encoding").contains(field)) {
                throw ApiError.badRequest(where + "." + field + " is not a record field (key, value, headers, partition, timestamp, encoding)");
            }
        }
        boolean base64 = encoding(r.getValue("encoding"), where + ".encoding", base64Default);
        Integer partition = null;
        if (r.getValue("partition") != null) {
            if (!(r.getValue("partition") instanceof Number n) || n.doubleValue() != n.intValue() || n.intValue() < 0) {
                throw ApiError.badRequest(where + ".partition must be a non-negative integer");
            }
            partition = n.intValue();
        }
        Long timestamp = null;
        if (r.getValue("timestamp") != null) {
            if (!(r.getValue("timestamp") instanceof Number n) || n.doubleValue() != n.longValue() || n.longValue() < 0) {
                throw ApiError.badRequest(where + ".timestamp must be milliseconds since the epoch (a non-negative integer)");
            }
            timestamp = n.longValue();
        }
        byte[] key = bytes(r.getValue("key"), where + ".key", base64);
        byte[] value = bytes(r.getValue("value"), where + ".value", base64);
        return new Outgoing(partition, timestamp, key, value, headers(r.getValue("headers"), where + ".headers", base64));
    }

    /** Whether {@code encoding} (absent, "utf8"/"text" or "base64") asks for base64. */
    public static boolean encoding(Object encoding, String where, boolean dflt) {
        if (encoding == null) return dflt;
        if ("base64".equals(encoding)) return true;
        if ("utf8".equals(encoding) || "text".equals(encoding)) return false;
        throw ApiError.badRequest(where + " must be \"text\" or \"base64\"");
    }

    /**
     * Whether {@code acks} (a produce request's or frame's) asks for every in-sync replica: {@code "all"} (or -1, the
     * default, as the Java producer's) or only the leader ({@code 1}); anything else is a 400.
     */
    public static boolean acksAll(Object acks) {
        if (acks == null || "all".equals(acks) || "-1".equals(acks) || Integer.valueOf(-1).equals(acks)) return true;
        if ("1".equals(acks) || Integer.valueOf(1).equals(acks)) return false;
        throw ApiError.badRequest("\"acks\" must be 1 (the leader has the records) or \"all\" (every in-sync replica has them)");
    }

    private static byte[] bytes(Object v, String where, boolean base64) {
        if (v == null) return null;
        if (v instanceof String s) {
            if (!base64) return s.getBytes(StandardCharsets.UTF_8);
            try {
                return Base64.getDecoder().decode(s);
            } catch (IllegalArgumentException e) {
                throw ApiError.badRequest(where + " is not valid base64: " + e.getMessage());
            }
        }
        if (base64) throw ApiError.badRequest(where + " must be a base64 string (encoding is base64)");
        if (v instanceof JsonObject o) return o.encode().getBytes(StandardCharsets.UTF_8);
        if (v instanceof JsonArray a) return a.encode().getBytes(StandardCharsets.UTF_8);
        return String.valueOf(v).getBytes(StandardCharsets.UTF_8); // numbers and booleans as their JSON text
    }

    private static Header[] headers(Object v, String where, boolean base64) {
        if (v == null) return Record.EMPTY_HEADERS;
        List<Header> out = new ArrayList<>();
        if (v instanceof JsonObject o) {
            for (Map.Entry<String, Object> e : o) out.add(header(e.getKey(), e.getValue(), where + "." + e.getKey(), base64));
        } else if (v instanceof JsonArray a) {
            for (int i = 0; i < a.size(); i++) {
                if (!(a.getValue(i) instanceof JsonObject h) || !(h.getValue("key") instanceof String name)) {
                    throw ApiError.badRequest(where + "[" + i + "] must be an object with a string 'key'");
                }
                out.add(header(name, h.getValue("value"), where + "[" + i + "].value",
                        encoding(h.getValue("encoding"), where + "[" + i + "].encoding", base64)));
            }
        } else {
            throw ApiError.badRequest(where + " must be an object of name to value, or an array of {key, value}");
        }
        return out.toArray(Header[]::new);
    }

    private static Header header(String name, Object value, String where, boolean base64) {
        if (value != null && !(value instanceof String)) throw ApiError.badRequest(where + " must be a string or null");
        return new RecordHeader(name, bytes(value, where, base64));
    }

    /** A non-negative integer field of a frame (0 when absent); throws {@link ApiError} otherwise. */
    public static long nonNegative(JsonObject o, String field) {
        Object v = o.getValue(field);
        if (v == null) return 0;
        if (!(v instanceof Number n) || n.doubleValue() != n.longValue() || n.longValue() < 0) {
            throw ApiError.badRequest("\"" + field + "\" must be a non-negative integer");
        }
        return n.longValue();
    }

    /** A stored record as JSON. */
    public static JsonObject toJson(int partition, RecordBatch batch, Record r, boolean base64) {
        JsonObject o = new JsonObject().put("partition", partition).put("offset", r.offset()).put("timestamp", r.timestamp())
                .put("timestampType", batch.timestampType().name);
        put(o, "key", "keyEncoding", r.key(), base64);
        put(o, "value", "valueEncoding", r.value(), base64);
        JsonArray headers = new JsonArray();
        for (Header h : r.headers()) {
            JsonObject ho = new JsonObject().put("key", h.key());
            put(ho, "value", "encoding", h.value() == null ? null : ByteBuffer.wrap(h.value()), base64);
            headers.add(ho);
        }
        return o.put("headers", headers);
    }

    private static void put(JsonObject o, String field, String encodingField, ByteBuffer bytes, boolean base64) {
        if (bytes == null) {
            o.putNull(field);
            return;
        }
        if (!base64) {
            try {
                o.put(field, StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(bytes.duplicate()).toString());
                return;
            } catch (CharacterCodingException e) {
                // not text: base64 below
            }
        }
        byte[] b = new byte[bytes.remaining()];
        bytes.duplicate().get(b);
        o.put(field, Base64.getEncoder().encodeToString(b)).put(encodingField, "base64");
    }
}
