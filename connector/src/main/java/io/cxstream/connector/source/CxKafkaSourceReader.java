package io.cxstream.connector.source;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Supplier;

import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.connector.base.source.reader.SingleThreadMultiplexSourceReaderBase;
import org.apache.flink.connector.base.source.reader.splitreader.SplitReader;
import org.apache.flink.table.data.RowData;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * One source subtask: a fetcher thread polls Kafka ({@link PartitionSplitReader}), the task thread
 * decodes and emits ({@link RowEmitter}). The base class keeps one watermark output per split, so
 * watermarks are per partition and a lagging partition holds the subtask's watermark back.
 */
final class CxKafkaSourceReader
        extends SingleThreadMultiplexSourceReaderBase<ConsumerRecord<byte[], byte[]>, RowData, PartitionSplit, SplitState> {

    private final DeadLetterWriter deadLetters;       // may be null
    private final OffsetCommitter committer;          // null when offsets are not committed
    /** Offsets of checkpoints taken but not yet complete, to commit when they complete. */
    private final SortedMap<Long, Map<TopicPartition, OffsetAndMetadata>> pendingCommits = new TreeMap<>();

    CxKafkaSourceReader(Supplier<SplitReader<ConsumerRecord<byte[], byte[]>, PartitionSplit>> splitReaders,
                        RowEmitter emitter, SourceReaderContext context,
                        DeadLetterWriter deadLetters, OffsetCommitter committer) {
        super(splitReaders, emitter, context.getConfiguration(), context);
        this.deadLetters = deadLetters;
        this.committer = committer;
    }

    @Override
    protected void onSplitFinished(Map<String, SplitState> finishedSplitIds) {
        // Bounded splits end here; nothing to clean up (the split reader already unassigned them).
    }

    @Override
    protected SplitState initializedState(PartitionSplit split) {
        return new SplitState(split);
    }

    @Override
    protected PartitionSplit toSplitType(String splitId, SplitState state) {
        return state.toSplit();
    }

    @Override
    public List<PartitionSplit> snapshotState(long checkpointId) {
        List<PartitionSplit> splits = super.snapshotState(checkpointId);
        if (deadLetters != null) {
            // Every record before this checkpoint's barrier was emitted or dead-lettered; make the
            // dead letters durable before the checkpoint can complete (at-least-once for them).
            try {
                deadLetters.flush();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        if (committer != null) {
            Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
            for (PartitionSplit s : splits) {
                offsets.put(s.topicPartition(), new OffsetAndMetadata(s.startingOffset()));
            }
            pendingCommits.put(checkpointId, offsets);
        }
        return splits;
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) throws Exception {
        super.notifyCheckpointComplete(checkpointId);
        if (committer == null || !pendingCommits.containsKey(checkpointId)) {
            return;
        }
        committer.commit(checkpointId, pendingCommits.get(checkpointId));
        // Older checkpoints are subsumed by this one.
        pendingCommits.headMap(checkpointId + 1).clear();
    }

    @Override
    public void close() throws Exception {
        try {
            super.close();
        } finally {
            try {
                if (deadLetters != null) {
                    deadLetters.close();
                }
            } finally {
                if (committer != null) {
                    committer.close();
                }
            }
        }
    }
}
