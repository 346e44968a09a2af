@echo off
rem Messages are Vietnamese without diacritics: cmd reads a .bat in the console code page,
rem and not every cmd (older Windows 10, Wine) switches to UTF-8 for the lines after chcp.
rem Tong hop cuoi cung: doc ket-qua, ap dung quyet dinh cua can bo kiem tra
rem (ket-qua\decisions.csv, neu co) va danh sach phieu da phat (in-phieu\issued.csv, neu co),
rem ghi vao tong-hop (report.html de in). Bam dup de chay.
rem (Final tally with the auditors' decisions and the issued list, when present.)
chcp 65001 >nul
setlocal
cd /d "%~dp0"

set "KETQUA=%~dp0ket-qua"
set "TONGHOP=%~dp0tong-hop"
set "QUYETDINH=%KETQUA%\decisions.csv"
set "DAPHAT=%~dp0in-phieu\issued.csv"

set DECISIONS=
if exist "%QUYETDINH%" set DECISIONS=--decisions "%QUYETDINH%"
set ISSUED=
if exist "%DAPHAT%" set ISSUED=--issued "%DAPHAT%"

"%~dp0ballotscan.exe" tally "%KETQUA%" %DECISIONS% %ISSUED% --out "%TONGHOP%"
if errorlevel 1 goto loi
echo.
echo XONG. Bao cao de in: %TONGHOP%\report.html
echo   Ket qua theo don vi (mo bang Excel): %TONGHOP%\summary.csv
goto het

:loi
echo.
echo CO LOI: doc dong "ballotscan: loi" o tren (tep va dong can sua). Chua co gi bi thay doi.

:het
echo.
pause
