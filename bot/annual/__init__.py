"""The annual report (政府信息公开工作年度报告): figures from data, three formats, exports.

- ``figures``: every number a report can carry, for one organization and year;
- ``document``: a format-neutral document (headings, paragraphs, tables with merges);
- ``formats``: figures → document for the seed (2016), 2019 and 2021 formats, plus the
  validation rules (勾稽关系, 总计, 规章 for townships, units);
- ``export``: document → .docx (GB/T 9704), HTML, Markdown, JSON.
"""
