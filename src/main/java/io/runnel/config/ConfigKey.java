package io.runnel.config;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * One configuration key: its name, how its text is parsed and checked, its default and its documentation.
 *
 * <p>Keys are defined once, in {@link BrokerConfig#KEYS} or {@link TopicConfig#KEYS}, and everything else (parsing
 * of files, command-line flags and environment variables, the error messages, the README table) follows from that
 * definition.
 *
 * @param name     the key, with Apache Kafka's name wherever the meaning is Kafka's
 * @param defaultValue the default as text, or {@code null} when the key has no default (it is then optional)
 * @param allowed  a human description of the allowed values, used in error messages
 * @param parser   turns valid text into the typed value, or throws {@link IllegalArgumentException}
 * @param doc      one sentence of documentation
 */
public record ConfigKey<T>(String name, String defaultValue, String allowed, Function<String, T> parser, String doc) {

    /** The environment variable that sets this key: {@code RUNNEL_} plus the name in upper case, dots to underscores. */
    public String envName() {
        return "RUNNEL_" + name.replace('.', '_').replace('-', '_').toUpperCase(Locale.ROOT);
    }

    /** The same key under another name (a {@code listener.name.<l>.} prefixed form), for its error messages. */
    public ConfigKey<T> named(String otherName) {
        return new ConfigKey<>(otherName, defaultValue, allowed, parser, doc);
    }

    /** Parses {@code text}, or throws a {@link ConfigException} naming this key, the value and its source. */
    public T parse(String text, String source) {
        try {
            return parser.apply(text.trim());
        } catch (RuntimeException e) {
            throw new ConfigException("Invalid value '" + text + "' for configuration key '" + name + "' (from " + source
                    + "): must be " + allowed + ".");
        }
    }

    // ---- factories for the value types the broker uses ----

    public static ConfigKey<Integer> intKey(String name, Integer def, int min, int max, String doc) {
        return new ConfigKey<>(name, def == null ? null : def.toString(), rangeText("an integer", min, max, Integer.MAX_VALUE), text -> {
            int v = Integer.parseInt(text);
            if (v < min || v > max) throw new IllegalArgumentException();
            return v;
        }, doc);
    }

    public static ConfigKey<Long> longKey(String name, Long def, long min, long max, String doc) {
        return new ConfigKey<>(name, def == null ? null : def.toString(), rangeText("an integer", min, max, Long.MAX_VALUE), text -> {
            long v = Long.parseLong(text);
            if (v < min || v > max) throw new IllegalArgumentException();
            return v;
        }, doc);
    }

    public static ConfigKey<Boolean> boolKey(String name, boolean def, String doc) {
        return new ConfigKey<>(name, Boolean.toString(def), "true or false", text -> {
            if (text.equalsIgnoreCase("true")) return true;
            if (text.equalsIgnoreCase("false")) return false;
            throw new IllegalArgumentException();
        }, doc);
    }

    public static ConfigKey<String> stringKey(String name, String def, String allowed, Function<String, String> check, String doc) {
        return new ConfigKey<>(name, def, allowed, check, doc);
    }

    public static ConfigKey<String> enumKey(String name, String def, Set<String> values, String doc) {
        return new ConfigKey<>(name, def, "one of " + String.join(", ", new TreeSet<>(values)), text -> {
            if (!values.contains(text)) throw new IllegalArgumentException();
            return text;
        }, doc);
    }

    public static <E> ConfigKey<List<E>> listKey(String name, String def, String allowed, Function<String, E> element, String doc) {
        return new ConfigKey<>(name, def, allowed, text -> {
            if (text.isBlank()) return List.of();
            return Arrays.stream(text.split(",")).map(String::trim).map(element).toList();
        }, doc);
    }

    private static String rangeText(String what, long min, long max, long typeMax) {
        return max == typeMax ? what + " >= " + min : what + " between " + min + " and " + max;
    }
}
