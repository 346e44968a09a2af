@echo off
rem Messages are Vietnamese without diacritics: cmd reads a .bat in the console code page,
rem and not every cmd (older Windows 10, Wine) switches to UTF-8 for the lines after chcp.
rem Quet phieu: doc moi phieu trong thu muc phieu-quet, ghi ket qua vao ket-qua,
rem roi tao trang xem lai cac phieu can kiem tra. Bam dup de chay.
rem (Scan: reads every ballot in phieu-quet, writes the results to ket-qua, then the review page.)
chcp 65001 >nul
setlocal
cd /d "%~dp0"

rem Thu muc may quet luu file va thu muc ket qua: sua hai dong nay neu can.
rem Nen dung ten thu muc khong dau (D:\Phieu quet): cmd doc tep .bat theo bang ma cu.
set "PHIEU=%~dp0phieu-quet"
set "KETQUA=%~dp0ket-qua"

if not exist "%PHIEU%" mkdir "%PHIEU%"
echo Dang doc phieu trong %PHIEU% ...
echo.
"%~dp0ballotscan.exe" scan "%PHIEU%" --out "%KETQUA%"
if errorlevel 1 goto loi
"%~dp0ballotscan.exe" review "%KETQUA%"
if errorlevel 1 goto loi
echo.
echo XONG.
echo   Ket qua theo don vi (mo bang Excel): %KETQUA%\summary.csv
echo   Phieu can xem lai (mo bang trinh duyet): %KETQUA%\review\index.html
goto het

:loi
echo.
echo CO LOI: doc dong "ballotscan: loi" o tren. Ket qua cu trong %KETQUA% van giu nguyen.
echo Xem muc "Khi co loi" trong HUONG-DAN-WINDOWS.md.

:het
echo.
pause
