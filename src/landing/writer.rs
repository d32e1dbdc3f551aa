//! Writing landed data to Parquet safely: under a temporary name, hashed as
//! it is written, renamed only when the footer is on disk — so a crash never
//! leaves a half-written file that looks whole.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayBuilder, ArrayRef, BinaryBuilder, Int64Builder, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};
use crate::landing::arrow_types::{ColumnBuilder, Value};
use crate::landing::manifest::FileEntry;
use crate::landing::{attachment_columns as ac, quarantine_columns as qc, SOURCE_LINE_COLUMN};
use crate::source::records::deleted_columns as dc;
use crate::source::schema::FieldType;

/// Row groups stay small enough that a writer's buffered row group never
/// holds much memory, and DuckDB can read them in parallel.
const MAX_ROW_GROUP_ROWS: usize = 128 * 1024;
/// Attachment contents are large: close a row group at this many bytes.
const MAX_ROW_GROUP_BYTES: usize = 64 * 1024 * 1024;

/// A `Write` that feeds SHA-256 and counts bytes on the way to the file.
struct HashingWriter {
    inner: BufWriter<File>,
    hasher: Sha256,
    bytes: u64,
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A Parquet file being written under `<name>.tmp`.
pub struct ParquetFile {
    writer: ArrowWriter<HashingWriter>,
    tmp_path: PathBuf,
    path: PathBuf,
    rows: u64,
}

impl ParquetFile {
    pub fn create(path: &Path, schema: SchemaRef) -> Result<Self> {
        let tmp_path = path.with_extension("parquet.tmp");
        let file = File::create(&tmp_path).at(&tmp_path)?;
        let sink = HashingWriter {
            inner: BufWriter::with_capacity(1 << 20, file),
            hasher: Sha256::new(),
            bytes: 0,
        };
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(MAX_ROW_GROUP_ROWS))
            .set_max_row_group_bytes(Some(MAX_ROW_GROUP_BYTES))
            .set_created_by(format!("ferry {}", env!("CARGO_PKG_VERSION")))
            .build();
        let writer = ArrowWriter::try_new(sink, schema, Some(props))
            .map_err(|e| Error::parquet(&tmp_path, e))?;
        Ok(ParquetFile {
            writer,
            tmp_path,
            path: path.to_path_buf(),
            rows: 0,
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        self.writer
            .write(batch)
            .map_err(|e| Error::parquet(&self.tmp_path, e))
    }

    /// Writes the footer, syncs, renames to the final name and returns the
    /// file's manifest entry.
    pub fn finish(self) -> Result<FileEntry> {
        let tmp_path = self.tmp_path;
        let mut sink = self
            .writer
            .into_inner()
            .map_err(|e| Error::parquet(&tmp_path, e))?;
        sink.flush().at(&tmp_path)?;
        sink.inner.get_ref().sync_all().at(&tmp_path)?;
        let entry = FileEntry {
            file: file_name(&self.path),
            sha256: hex::encode(sink.hasher.finalize()),
            bytes: sink.bytes,
            rows: self.rows,
        };
        std::fs::rename(&tmp_path, &self.path).at(&self.path)?;
        Ok(entry)
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Builds record batches column by column and writes them when full.
pub struct BatchWriter {
    file: ParquetFile,
    schema: SchemaRef,
    builders: Vec<ColumnBuilder>,
    types: Vec<FieldType>,
    batch_rows: usize,
    pending: usize,
}

impl BatchWriter {
    /// `columns`: name and type of each column, in order.
    pub fn create(path: &Path, columns: &[(String, FieldType)], batch_rows: usize) -> Result<Self> {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, ty)| crate::landing::arrow_types::arrow_field(name, *ty))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let types: Vec<FieldType> = columns.iter().map(|(_, ty)| *ty).collect();
        let builders = types
            .iter()
            .map(|ty| ColumnBuilder::new(*ty, batch_rows))
            .collect();
        Ok(BatchWriter {
            file: ParquetFile::create(path, schema.clone())?,
            schema,
            builders,
            types,
            batch_rows,
            pending: 0,
        })
    }

    pub fn types(&self) -> &[FieldType] {
        &self.types
    }

    /// Appends one row; `values` must match the columns in order and type.
    pub fn push(&mut self, values: &[Value<'_>]) -> Result<()> {
        for (builder, value) in self.builders.iter_mut().zip(values) {
            builder.append(*value);
        }
        self.pending += 1;
        if self.pending >= self.batch_rows {
            self.flush_batch()?;
        }
        Ok(())
    }

    fn flush_batch(&mut self) -> Result<()> {
        if self.pending == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(ColumnBuilder::finish)
            .collect();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| Error::parquet(&self.file.path, e))?;
        self.pending = 0;
        self.file.write(&batch)
    }

    pub fn finish(mut self) -> Result<FileEntry> {
        self.flush_batch()?;
        self.file.finish()
    }
}

/// `_deleted.parquet`: one row per deletion the source reported, with the
/// same types as landed objects (`deleted_at` is a UTC timestamp).
pub struct DeletedWriter {
    inner: BatchWriter,
}

impl DeletedWriter {
    pub fn create(path: &Path, batch_rows: usize) -> Result<Self> {
        let columns = [
            (dc::OBJECT, FieldType::Text),
            (dc::ID, FieldType::Text),
            (dc::DELETED_AT, FieldType::Timestamp),
            (SOURCE_LINE_COLUMN, FieldType::Integer),
        ]
        .map(|(name, ty)| (name.to_string(), ty));
        Ok(DeletedWriter {
            inner: BatchWriter::create(path, &columns, batch_rows)?,
        })
    }

    /// `deleted_at` in microseconds since the epoch, UTC; `line` in the
    /// source file (none for API deletions).
    pub fn push(
        &mut self,
        object: &str,
        id: &str,
        deleted_at: i64,
        line: Option<u64>,
    ) -> Result<()> {
        self.inner.push(&[
            Value::Text(object),
            Value::Text(id),
            Value::Timestamp(deleted_at),
            line.map_or(Value::Null, |l| Value::Integer(l as i64)),
        ])
    }

    pub fn finish(self) -> Result<FileEntry> {
        self.inner.finish()
    }
}

/// One rejected row and why.
#[derive(Debug, Clone)]
pub struct QuarantineRow {
    pub object: String,
    pub line: Option<u64>,
    pub record_id: Option<String>,
    pub field: Option<String>,
    pub reason: String,
    pub raw: Vec<u8>,
}

/// `_quarantine.parquet`, shared by the objects being landed.
pub struct QuarantineWriter {
    file: ParquetFile,
    schema: SchemaRef,
    buffered: Vec<QuarantineRow>,
    buffered_bytes: usize,
}

impl QuarantineWriter {
    pub fn create(path: &Path) -> Result<Self> {
        let schema = Arc::new(Schema::new(vec![
            Field::new(qc::OBJECT, DataType::Utf8, false),
            Field::new(qc::LINE, DataType::Int64, true),
            Field::new(qc::RECORD_ID, DataType::Utf8, true),
            Field::new(qc::FIELD, DataType::Utf8, true),
            Field::new(qc::REASON, DataType::Utf8, false),
            Field::new(qc::RAW_TEXT, DataType::Utf8, false),
            Field::new(qc::RAW_BYTES, DataType::Binary, false),
        ]));
        Ok(QuarantineWriter {
            file: ParquetFile::create(path, schema.clone())?,
            schema,
            buffered: Vec::new(),
            buffered_bytes: 0,
        })
    }

    pub fn push(&mut self, row: QuarantineRow) -> Result<()> {
        self.buffered_bytes += row.raw.len() + row.reason.len();
        self.buffered.push(row);
        if self.buffered.len() >= 8192 || self.buffered_bytes >= 32 << 20 {
            self.flush_batch()?;
        }
        Ok(())
    }

    fn flush_batch(&mut self) -> Result<()> {
        if self.buffered.is_empty() {
            return Ok(());
        }
        let mut object = StringBuilder::new();
        let mut line = Int64Builder::new();
        let mut record_id = StringBuilder::new();
        let mut field = StringBuilder::new();
        let mut reason = StringBuilder::new();
        let mut raw_text = StringBuilder::new();
        let mut raw_bytes = BinaryBuilder::new();
        for row in self.buffered.drain(..) {
            object.append_value(&row.object);
            line.append_option(row.line.map(|l| l as i64));
            record_id.append_option(row.record_id.as_deref());
            field.append_option(row.field.as_deref());
            reason.append_value(&row.reason);
            raw_text.append_value(String::from_utf8_lossy(&row.raw));
            raw_bytes.append_value(&row.raw);
        }
        self.buffered_bytes = 0;
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(object.finish()),
            Arc::new(line.finish()),
            Arc::new(record_id.finish()),
            Arc::new(field.finish()),
            Arc::new(reason.finish()),
            Arc::new(raw_text.finish()),
            Arc::new(raw_bytes.finish()),
        ];
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| Error::parquet(&self.file.path, e))?;
        self.file.write(&batch)
    }

    pub fn finish(mut self) -> Result<FileEntry> {
        self.flush_batch()?;
        self.file.finish()
    }
}

/// `_attachments.parquet`: attachment contents, one row per file.
pub struct AttachmentWriter {
    file: ParquetFile,
    schema: SchemaRef,
    ids: StringBuilder,
    names: StringBuilder,
    sizes: Int64Builder,
    hashes: StringBuilder,
    contents: BinaryBuilder,
    buffered_bytes: usize,
    pub content_bytes: u64,
}

impl AttachmentWriter {
    pub fn create(path: &Path) -> Result<Self> {
        let schema = Arc::new(Schema::new(vec![
            Field::new(ac::ATTACHMENT_ID, DataType::Utf8, false),
            Field::new(ac::FILE_NAME, DataType::Utf8, true),
            Field::new(ac::SIZE_BYTES, DataType::Int64, false),
            Field::new(ac::SHA256, DataType::Utf8, false),
            Field::new(ac::CONTENT, DataType::Binary, false),
        ]));
        Ok(AttachmentWriter {
            file: ParquetFile::create(path, schema.clone())?,
            schema,
            ids: StringBuilder::new(),
            names: StringBuilder::new(),
            sizes: Int64Builder::new(),
            hashes: StringBuilder::new(),
            contents: BinaryBuilder::new(),
            buffered_bytes: 0,
            content_bytes: 0,
        })
    }

    pub fn push(
        &mut self,
        id: &str,
        file_name: Option<&str>,
        sha256: &str,
        content: &[u8],
    ) -> Result<()> {
        self.ids.append_value(id);
        self.names.append_option(file_name);
        self.sizes.append_value(content.len() as i64);
        self.hashes.append_value(sha256);
        self.contents.append_value(content);
        self.buffered_bytes += content.len();
        self.content_bytes += content.len() as u64;
        if self.buffered_bytes >= 16 << 20 {
            self.flush_batch()?;
        }
        Ok(())
    }

    fn flush_batch(&mut self) -> Result<()> {
        if self.ids.is_empty() {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(self.ids.finish()),
            Arc::new(self.names.finish()),
            Arc::new(self.sizes.finish()),
            Arc::new(self.hashes.finish()),
            Arc::new(self.contents.finish()),
        ];
        self.buffered_bytes = 0;
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| Error::parquet(&self.file.path, e))?;
        self.file.write(&batch)
    }

    pub fn finish(mut self) -> Result<FileEntry> {
        self.flush_batch()?;
        self.file.finish()
    }
}
