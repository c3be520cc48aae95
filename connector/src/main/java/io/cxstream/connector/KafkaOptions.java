package io.cxstream.connector;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.table.api.ValidationException;

/**
 * Table options of the cx-kafka and cx-upsert-kafka connectors.
 *
 * <p>Names follow Flink's official Kafka connector wherever the feature is the same, so that a
 * table definition can move between the two connectors by changing {@code connector} only.
 */
public final class KafkaOptions {

    private KafkaOptions() {}

    /** Everything under this prefix goes, prefix stripped, to the Kafka clients. */
    public static final String PROPERTIES_PREFIX = "properties.";

    // ---- common -------------------------------------------------------------------------------

    public static final ConfigOption<String> TOPIC =
            ConfigOptions.key("topic").stringType().noDefaultValue()
                    .withDescription("Topic to read or write; a source accepts a ';'-separated list.");

    public static final ConfigOption<String> VALUE_FORMAT =
            ConfigOptions.key("value.format").stringType().noDefaultValue()
                    .withDescription("Format of the record value, e.g. 'json' or 'cx-avro'; 'format' is the "
                            + "same with unprefixed format options ('json.x' instead of 'value.json.x').");

    public static final ConfigOption<String> KEY_FORMAT =
            ConfigOptions.key("key.format").stringType().noDefaultValue()
                    .withDescription("Format of the record key.");

    public static final ConfigOption<List<String>> KEY_FIELDS =
            ConfigOptions.key("key.fields").stringType().asList().defaultValues()
                    .withDescription("';'-separated physical columns that form the key (cx-kafka).");

    /** Whether the value also carries the key columns (official connector's semantics). */
    public enum ValueFieldsInclude { ALL, EXCEPT_KEY }

    public static final ConfigOption<ValueFieldsInclude> VALUE_FIELDS_INCLUDE =
            ConfigOptions.key("value.fields-include").enumType(ValueFieldsInclude.class)
                    .defaultValue(ValueFieldsInclude.ALL)
                    .withDescription("ALL: the value holds every physical column; EXCEPT_KEY: not the key ones.");

    // ---- source -------------------------------------------------------------------------------

    /** Where a source starts reading the partitions it finds at its first start. */
    public enum StartupMode { EARLIEST_OFFSET, LATEST_OFFSET, GROUP_OFFSETS, TIMESTAMP, SPECIFIC_OFFSETS }

    public static final ConfigOption<String> SCAN_STARTUP_MODE =
            ConfigOptions.key("scan.startup.mode").stringType().defaultValue("earliest-offset")
                    .withDescription("earliest-offset | latest-offset | group-offsets | timestamp | specific-offsets");

    public static final ConfigOption<Long> SCAN_STARTUP_TIMESTAMP_MILLIS =
            ConfigOptions.key("scan.startup.timestamp-millis").longType().noDefaultValue();

    public static final ConfigOption<String> SCAN_STARTUP_SPECIFIC_OFFSETS =
            ConfigOptions.key("scan.startup.specific-offsets").stringType().noDefaultValue()
                    .withDescription("e.g. 'partition:0,offset:42;partition:1,offset:300'");

    public static final ConfigOption<String> SCAN_BOUNDED_MODE =
            ConfigOptions.key("scan.bounded.mode").stringType().defaultValue("unbounded")
                    .withDescription("unbounded | latest-offset (stop at the end offsets seen at start)");

    public static final ConfigOption<Duration> SCAN_PARTITION_DISCOVERY_INTERVAL =
            ConfigOptions.key("scan.topic-partition-discovery.interval").durationType()
                    .defaultValue(Duration.ofSeconds(30))
                    .withDescription("How often to look for new partitions; zero or negative disables it.");

    public static final ConfigOption<String> DLQ_TOPIC =
            ConfigOptions.key("dlq.topic").stringType().noDefaultValue()
                    .withDescription("Dead-letter topic for records the format cannot decode. "
                            + "Without it, such a record fails the job.");

    public static final ConfigOption<String> METRICS_EVENT_TIME_FIELD =
            ConfigOptions.key("metrics.event-time-field").stringType().noDefaultValue()
                    .withDescription("A TIMESTAMP_LTZ(3) column holding the record's event time: the "
                            + "connector then reports an eventTimeLagMs histogram per topic (now minus "
                            + "event time, when read or written).");

    /** Index of {@link #METRICS_EVENT_TIME_FIELD} among {@code names}, or -1 when it is not set. */
    public static int eventTimeIndex(ReadableConfig options, List<String> names) {
        return options.getOptional(METRICS_EVENT_TIME_FIELD)
                .map(f -> indexesOf(List.of(f), names, METRICS_EVENT_TIME_FIELD.key())[0]).orElse(-1);
    }

    public static final ConfigOption<String> DLQ_JOB_NAME =
            ConfigOptions.key("dlq.job-name").stringType().defaultValue("unknown")
                    .withDescription("Written into the 'job' field of dead-letter records.");

    /**
     * Kafka property (official connector's name) that turns off committing offsets to the group on
     * checkpoints. It is ours, not the client's, so it is removed before the client sees it.
     */
    public static final String COMMIT_OFFSETS_ON_CHECKPOINT = "commit.offsets.on.checkpoint";

    // ---- sink ---------------------------------------------------------------------------------

    public static final ConfigOption<DeliveryGuarantee> SINK_DELIVERY_GUARANTEE =
            ConfigOptions.key("sink.delivery-guarantee").enumType(DeliveryGuarantee.class)
                    .defaultValue(DeliveryGuarantee.AT_LEAST_ONCE)
                    .withDescription("at-least-once (flush on every checkpoint) | none. "
                            + "exactly-once is rejected: see CxKafkaTableFactory.");

    public static final ConfigOption<String> SINK_TRANSACTIONAL_ID_PREFIX =
            ConfigOptions.key("sink.transactional-id-prefix").stringType().noDefaultValue()
                    .withDescription("Accepted for compatibility with the official connector; "
                            + "only meaningful with exactly-once, which this connector does not offer.");

    // ---- helpers ------------------------------------------------------------------------------

    /** The Kafka client properties of a table: its {@code properties.*} options, prefix stripped. */
    public static Properties kafkaProperties(Map<String, String> tableOptions) {
        Properties props = new Properties();
        tableOptions.forEach((k, v) -> {
            if (k.startsWith(PROPERTIES_PREFIX)) {
                props.setProperty(k.substring(PROPERTIES_PREFIX.length()), v);
            }
        });
        if (props.getProperty("bootstrap.servers", "").isBlank()) {
            throw new ValidationException("Option 'properties.bootstrap.servers' is required.");
        }
        return props;
    }

    /** The topics named by the 'topic' option ('a;b;c'), blanks and duplicates dropped. */
    public static List<String> topics(String option) {
        List<String> out = new ArrayList<>();
        for (String t : option.split(";")) {
            String topic = t.trim();
            if (!topic.isEmpty() && !out.contains(topic)) {
                out.add(topic);
            }
        }
        if (out.isEmpty()) {
            throw new ValidationException("Option 'topic' names no topic: '" + option + "'.");
        }
        return out;
    }

    public static StartupMode startupMode(String value) {
        switch (value.trim().toLowerCase()) {
            case "earliest-offset": return StartupMode.EARLIEST_OFFSET;
            case "latest-offset": return StartupMode.LATEST_OFFSET;
            case "group-offsets": return StartupMode.GROUP_OFFSETS;
            case "timestamp": return StartupMode.TIMESTAMP;
            case "specific-offsets": return StartupMode.SPECIFIC_OFFSETS;
            default:
                throw new ValidationException("Unknown 'scan.startup.mode' value '" + value + "'; expected one of "
                        + "earliest-offset, latest-offset, group-offsets, timestamp, specific-offsets.");
        }
    }

    /** True for 'latest-offset', false for 'unbounded'. */
    public static boolean boundedAtLatest(String value) {
        switch (value.trim().toLowerCase()) {
            case "unbounded": return false;
            case "latest-offset": return true;
            default:
                throw new ValidationException("Unsupported 'scan.bounded.mode' value '" + value
                        + "'; this connector supports 'unbounded' and 'latest-offset'.");
        }
    }

    /** Parses 'partition:0,offset:42;partition:1,offset:300' into partition → offset. */
    public static Map<Integer, Long> specificOffsets(String value) {
        Map<Integer, Long> out = new java.util.TreeMap<>();
        for (String entry : value.split(";")) {
            if (entry.isBlank()) {
                continue;
            }
            Integer partition = null;
            Long offset = null;
            for (String kv : entry.split(",")) {
                String[] parts = kv.split(":", 2);
                if (parts.length != 2) {
                    throw badSpecificOffsets(value);
                }
                try {
                    switch (parts[0].trim()) {
                        case "partition": partition = Integer.parseInt(parts[1].trim()); break;
                        case "offset": offset = Long.parseLong(parts[1].trim()); break;
                        default: throw badSpecificOffsets(value);
                    }
                } catch (NumberFormatException e) {
                    throw badSpecificOffsets(value);
                }
            }
            if (partition == null || offset == null || partition < 0 || offset < 0) {
                throw badSpecificOffsets(value);
            }
            out.put(partition, offset);
        }
        if (out.isEmpty()) {
            throw badSpecificOffsets(value);
        }
        return out;
    }

    private static ValidationException badSpecificOffsets(String value) {
        return new ValidationException("Invalid 'scan.startup.specific-offsets' value '" + value
                + "'; expected e.g. 'partition:0,offset:42;partition:1,offset:300'.");
    }

    /** Positions of the named columns in the physical row, in the order given. */
    public static int[] indexesOf(List<String> fields, List<String> physicalNames, String optionName) {
        int[] out = new int[fields.size()];
        for (int i = 0; i < out.length; i++) {
            int idx = physicalNames.indexOf(fields.get(i).trim());
            if (idx < 0) {
                throw new ValidationException("'" + optionName + "' names column '" + fields.get(i)
                        + "', which is not a physical column of the table " + physicalNames + ".");
            }
            out[i] = idx;
        }
        return out;
    }

    /** The physical positions not in {@code excluded}, in table order. */
    public static int[] complement(int[] excluded, int arity) {
        return java.util.stream.IntStream.range(0, arity)
                .filter(i -> Arrays.stream(excluded).noneMatch(e -> e == i)).toArray();
    }
}
