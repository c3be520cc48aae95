package io.cxstream.connector.source;

import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.groups.SourceReaderMetricGroup;

import io.cxstream.connector.TopicMetrics;
import org.apache.flink.table.data.RowData;
import org.apache.flink.util.UserCodeClassLoader;
import org.apache.kafka.clients.consumer.ConsumerConfig;

import io.cxstream.connector.KafkaOptions;
import io.cxstream.connector.KafkaOptions.StartupMode;

/**
 * FLIP-27 Kafka source producing table rows: one split per topic-partition, offsets in Flink's
 * checkpoints. Built by {@link CxKafkaTableSource}; everything here is serialized into the job.
 */
public final class CxKafkaSource
        implements Source<RowData, PartitionSplit, EnumeratorState>, ResultTypeQueryable<RowData> {

    private static final long serialVersionUID = 1L;

    final List<String> topics;
    final Properties properties;
    final StartupMode startupMode;
    final long startupTimestampMillis;
    final Map<Integer, Long> specificOffsets;
    final boolean bounded;
    final long discoveryIntervalMs;
    private final RowLayout layout;
    private final DeserializationSchema<RowData> keyFormat;
    private final DeserializationSchema<RowData> valueFormat;
    private final String dlqTopic;
    private final String dlqJobName;
    private final TypeInformation<RowData> producedType;
    private final int eventTimeField;

    CxKafkaSource(List<String> topics, Properties properties, StartupMode startupMode, long startupTimestampMillis,
                  Map<Integer, Long> specificOffsets, boolean bounded, long discoveryIntervalMs, RowLayout layout,
                  DeserializationSchema<RowData> keyFormat, DeserializationSchema<RowData> valueFormat,
                  String dlqTopic, String dlqJobName, TypeInformation<RowData> producedType,
                  int eventTimeField) {
        this.eventTimeField = eventTimeField;
        this.topics = topics;
        this.properties = properties;
        this.startupMode = startupMode;
        this.startupTimestampMillis = startupTimestampMillis;
        this.specificOffsets = specificOffsets;
        this.bounded = bounded;
        this.discoveryIntervalMs = discoveryIntervalMs;
        this.layout = layout;
        this.keyFormat = keyFormat;
        this.valueFormat = valueFormat;
        this.dlqTopic = dlqTopic;
        this.dlqJobName = dlqJobName;
        this.producedType = producedType;
    }

    @Override
    public Boundedness getBoundedness() {
        return bounded ? Boundedness.BOUNDED : Boundedness.CONTINUOUS_UNBOUNDED;
    }

    @Override
    public TypeInformation<RowData> getProducedType() {
        return producedType;
    }

    private String clientIdPrefix() {
        return properties.getProperty(ConsumerConfig.GROUP_ID_CONFIG, "cx-kafka");
    }

    @Override
    public SourceReader<RowData, PartitionSplit> createReader(SourceReaderContext context) throws Exception {
        int subtask = context.getIndexOfSubtask();
        SourceReaderMetricGroup metrics = context.metricGroup();
        DeserializationSchema.InitializationContext init = new DeserializationSchema.InitializationContext() {
            @Override
            public MetricGroup getMetricGroup() {
                return metrics.addGroup("deserializer");
            }

            @Override
            public UserCodeClassLoader getUserCodeClassLoader() {
                return context.getUserCodeClassLoader();
            }
        };
        if (keyFormat != null) {
            keyFormat.open(init);
        }
        valueFormat.open(init);

        DeadLetterWriter deadLetters = dlqTopic == null ? null
                : new DeadLetterWriter(properties, dlqTopic, dlqJobName, clientIdPrefix() + "-dlq-" + subtask);
        boolean commit = properties.containsKey(ConsumerConfig.GROUP_ID_CONFIG)
                && !"false".equalsIgnoreCase(properties.getProperty(KafkaOptions.COMMIT_OFFSETS_ON_CHECKPOINT, "true"));
        OffsetCommitter committer = commit ? new OffsetCommitter(properties, clientIdPrefix() + "-commit-" + subtask) : null;

        RowEmitter emitter = new RowEmitter(layout, keyFormat, valueFormat, deadLetters,
                metrics.counter("numRecordsDecoded"), metrics.counter("numRecordsToDlq"),
                metrics.getNumRecordsInErrorsCounter(), new TopicMetrics(metrics, eventTimeField));
        String readerClientId = clientIdPrefix() + "-reader-" + subtask;
        return new CxKafkaSourceReader(() -> new PartitionSplitReader(properties, readerClientId), emitter, context,
                deadLetters, committer);
    }

    @Override
    public SplitEnumerator<PartitionSplit, EnumeratorState> createEnumerator(SplitEnumeratorContext<PartitionSplit> context) {
        return new PartitionEnumerator(context, this, null);
    }

    @Override
    public SplitEnumerator<PartitionSplit, EnumeratorState> restoreEnumerator(
            SplitEnumeratorContext<PartitionSplit> context, EnumeratorState checkpoint) {
        return new PartitionEnumerator(context, this, checkpoint);
    }

    @Override
    public SimpleVersionedSerializer<PartitionSplit> getSplitSerializer() {
        return PartitionSplit.Serializer.INSTANCE;
    }

    @Override
    public SimpleVersionedSerializer<EnumeratorState> getEnumeratorCheckpointSerializer() {
        return new EnumeratorState.Serializer();
    }
}
